//! Arbitrary leases and observations through record decoding and the
//! candidate's decisions; the rules checked are in core/src/fuzzing.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| elector_core::fuzzing::run(data));
