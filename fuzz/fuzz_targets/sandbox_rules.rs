//! Arbitrary bytes as a user-notify rule file: the parser must never panic, and
//! whatever it accepts must print to a canonical form that parses back to the same
//! rules.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    krsi_sandbox::rules::fuzz_rules(data);
});
