//! Arbitrary bytes as policy text: the parser must never panic, and whatever it
//! accepts must compile to a filter that agrees with the parsed policy.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    krsi_seccomp::fuzzing::fuzz_parse(data);
});
