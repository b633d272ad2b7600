//! `s3push`: parse the arguments, run the upload, turn the outcome into an exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// dlmalloc instead of the C library's malloc (doc/dependencies.md): musl's gives each TLS
/// record's buffer back to the kernel when it is freed (an mmap and a munmap per 8 KiB
/// record), which cost more CPU than the encryption; dlmalloc keeps freed chunks for the
/// next record. Its own code is unsafe; ours stays `forbid(unsafe_code)`. 64-bit targets
/// only: on armv7 (32-bit) dlmalloc 0.2.14 crashed under qemu-arm right after shrinking
/// an mmapped chunk with mremap (scripts/test-arm, standard input), so armv7 keeps musl's.
#[cfg(target_pointer_width = "64")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    s3push::cli::run(std::env::args_os().skip(1).collect())
}
