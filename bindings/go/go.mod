module elector.dev/elector

go 1.22
