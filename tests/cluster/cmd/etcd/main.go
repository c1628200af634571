// Command etcd is the etcd server at the version kube-apiserver's module
// graph selects, run as its own process so tests can restart it alone.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
