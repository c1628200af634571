package elector

// For the parity test: the library's options and this package's fields.
var (
	CoreOptionNames = coreOptionNames
	ConfigFields    = configFields
)
