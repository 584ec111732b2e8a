//! Process control for everything the grader starts, so that nothing outlives a run.
//!
//! Every node process (in a cluster or a fixture) leads its own process group, so a stop, a
//! pause or a kill reaches whatever it started without `exec` (a wrapper script, a forked
//! helper). Each also carries an environment variable naming its run ([`RUN_TAG_VAR`]), which
//! its descendants inherit: when the run ends, [`kill_tagged`] finds and kills anything that
//! still carries the tag, even a process that left the group with `setsid` or was re-parented.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The environment variable that tags a run's processes.
pub const RUN_TAG_VAR: &str = "GOSSIPER_RUN";

/// A tag no other run shares: this process's id, a counter and the time.
pub fn new_run_tag() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Makes `command` start in its own process group, tagged with `tag`.
pub fn configure(command: &mut Command, tag: &str) {
    use std::os::unix::process::CommandExt;
    command.env(RUN_TAG_VAR, tag).process_group(0);
}

/// How every node process starts, in a fixture or a cluster: `bin args…` with its seed in
/// `GOSSIP_SEED`, its three standard streams piped to the grader, in its own process group
/// tagged with `tag`.
pub fn node_command(bin: &std::path::Path, args: &[String], seed: &str, tag: &str) -> Command {
    let mut command = Command::new(bin);
    command
        .args(args)
        .env("GOSSIP_SEED", seed)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    configure(&mut command, tag);
    command
}

/// Sends `signal` to the process group `child` leads (its own id); errors (the group is gone)
/// are ignored.
pub fn signal_group(child: &Child, signal: Signal) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    let _ = killpg(Pid::from_raw(pid), signal);
}

/// Kills `child`'s whole process group and reaps `child`, whatever it was doing (a stopped
/// process dies of SIGKILL too).
pub fn kill_and_reap(child: &mut Child) -> Option<std::process::ExitStatus> {
    signal_group(child, Signal::SIGKILL);
    let _ = child.kill();
    child.wait().ok()
}

/// The processes (other than zombies) whose environment carries `tag`, by pid.
pub fn tagged(tag: &str) -> Vec<i32> {
    let wanted = format!("{RUN_TAG_VAR}={tag}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            environ
                .split(|byte| *byte == 0)
                .any(|entry| entry == wanted.as_bytes())
                && !is_zombie(*pid)
        })
        .collect()
}

/// True when `pid` is a zombie (dead, waiting to be reaped) or gone.
pub fn is_zombie(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// Kills every live process tagged `tag`, and their process groups, until none is left (a few
/// rounds, for processes that fork while being killed). Returns how many were killed.
///
/// A process in the middle of `exec` shows an empty environment for a moment, so one empty
/// look is not trusted: the rounds end after two in a row.
pub fn kill_tagged(tag: &str) -> usize {
    let mut killed = 0;
    let mut empty_looks = 0;
    for _ in 0..12 {
        let found = tagged(tag);
        if found.is_empty() {
            empty_looks += 1;
            if empty_looks == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            continue;
        }
        empty_looks = 0;
        for pid in found {
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGKILL);
            if let Ok(group) = nix::unistd::getpgid(Some(pid))
                && group != nix::unistd::getpgrp()
            {
                let _ = killpg(group, Signal::SIGKILL);
            }
            killed += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    killed
}

/// Makes this process the reaper of its orphaned descendants (Linux's child subreaper), so
/// that a node's escaped children are re-parented here rather than to init; [`reap_orphans`]
/// then collects them. For the grader's binaries only: a library caller (a test binary running
/// tests in parallel) must not reap children it does not own.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Reaps every exited child of this process without waiting (see [`become_subreaper`]).
pub fn reap_orphans() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Stdio;

    use super::*;

    #[test]
    fn a_tagged_grandchild_that_left_the_group_is_found_and_killed() {
        let tag = new_run_tag();
        let mut command = Command::new("sh");
        // The grandchild leaves the process group (setsid) and outlives its parent.
        command
            .args(["-c", "setsid sleep 30 >/dev/null 2>&1 & echo $!"])
            .stdout(Stdio::piped());
        configure(&mut command, &tag);
        let output = command.output().unwrap();
        let grandchild: i32 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap();
        // It may still be in the middle of `exec`, when its environment reads empty.
        let inherited = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            tagged(&tag).contains(&grandchild)
        });
        assert!(inherited, "the tag is inherited");
        assert!(kill_tagged(&tag) >= 1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(is_zombie(grandchild), "the grandchild is dead");
        assert!(tagged(&tag).is_empty());
    }
}
