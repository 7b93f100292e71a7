//! Bytes drive a policy generator; the generated policy is parsed, compiled and
//! simulated, and the simulator must agree with the generator's own model.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    krsi_seccomp::fuzzing::fuzz_compile(data);
});
