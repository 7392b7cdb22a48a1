//! `PR_SET_PDEATHSIG(SIGKILL)` for spawned children.
//!
//! `CommandExt::pre_exec` is an `unsafe` API, so this one small module opts
//! out of the workspace's `unsafe_code = "deny"`; nothing else does.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::Signal;
use nix::unistd::{Pid, getppid};

/// Make the child get SIGKILL when the thread that spawned it dies.
///
/// Linux sends the parent-death signal when the *spawning thread* exits, not
/// the process, so callers must spawn from a thread that lives as long as the
/// process: see [`crate::process`], which spawns from one dedicated thread.
pub(crate) fn kill_child_with_parent(cmd: &mut Command) {
    let parent = Pid::this();
    // SAFETY: the closure runs in the forked child before exec. It only makes
    // two async-signal-safe syscalls (prctl, getppid) through nix wrappers that
    // neither allocate nor take locks, and builds an io::Error from a raw errno
    // (no allocation). std runs pre_exec closures after its own setuid/setgid,
    // so the credential change does not clear the parent-death signal.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
            // The parent may have died between fork and prctl: then nobody
            // would ever send the signal, so do not start at all.
            if getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}
