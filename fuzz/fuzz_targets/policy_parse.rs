//! Arbitrary bytes as a krsi policy: parse, check and compile must never
//! panic, and every diagnostic must point inside the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    krsi_policy::fuzz_one(data);
});
