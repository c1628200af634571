package elector

/*
#include <elector.h>
*/
import "C"

import "strings"

// configFields is each core option's field in Config, as errors name it.
// Every core option is here (a test holds it to the library's list).
var configFields = map[string]string{
	"namespace":                   "Namespace",
	"lease_name":                  "LeaseName",
	"identity":                    "Identity",
	"lease_duration":              "LeaseDuration",
	"renew_deadline":              "RenewDeadline",
	"retry_period":                "RetryPeriod",
	"release_on_stop":             "KeepLeaseOnStop",
	"release_timeout":             "ReleaseTimeout",
	"stop_timeout":                "StopTimeout",
	"labels":                      "Labels",
	"owner_reference.api_version": "Owner.APIVersion",
	"owner_reference.kind":        "Owner.Kind",
	"owner_reference.name":        "Owner.Name",
	"owner_reference.uid":         "Owner.UID",
	"kubeconfig":                  "Kubeconfig",
	"context":                     "Context",
	"url":                         "URL",
	"token":                       "Token",
	"token_file":                  "TokenFile",
	"ca_file":                     "CAFile",
	"insecure_skip_tls_verify":    "InsecureSkipTLSVerify",
}

// coreOptionNames lists the library's options, in its order.
func coreOptionNames() []string {
	var names []string
	for i := C.size_t(0); ; i++ {
		name := C.elector_option_name(i)
		if name == nil {
			return names
		}
		names = append(names, C.GoString(name))
	}
}

// inGoTerms names the Config field in a configuration error from the
// library, which spells options as core does ("invalid lease_duration:
// ..." becomes "invalid LeaseDuration: ...").
func inGoTerms(err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	rest, found := strings.CutPrefix(e.Message, "invalid ")
	if !found {
		return err
	}
	name, rule, found := strings.Cut(rest, ": ")
	if field, known := configFields[name]; found && known {
		return &Error{Code: e.Code, Field: field, Message: "invalid " + field + ": " + rule}
	}
	return err
}
