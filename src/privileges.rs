//! Giving up privileges once the capture is open (cargo feature `live`).
//!
//! `stripwatch live` needs root or the capabilities `cap_net_raw` and
//! `cap_net_admin` only to open the capture handle; everything after that
//! (libpcap's reads, the decoders, the protocol parsers) runs on bytes an
//! attacker may have shaped. So once the handle and the output files are
//! open, [`drop_privileges`]:
//!
//! - started as root: switches to an unprivileged user (`--user`, like
//!   `tcpdump -Z`): its groups, then its gid, then its uid (real,
//!   effective and saved), after emptying the capability bounding set;
//! - in every case: empties every capability set (effective, permitted,
//!   inheritable, ambient) and sets `no_new_privs`, so no later `execve`
//!   can gain anything back;
//! - then checks that all of it holds and that root cannot be regained.
//!
//! Any failure is fatal for the caller: never go on privileged.
//!
//! Capability sets and `no_new_privs` belong to a thread, so this must run
//! while the process has one thread (checked); threads started later
//! inherit the dropped state. glibc applies the uid and gid changes to every
//! thread anyway.

use caps::CapSet;
use nix::unistd::{Gid, Uid, User};
use std::ffi::CString;

/// What the process gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Started as root: now this user, with no capabilities.
    Root {
        /// The `--user` switched to, as the password database names it (not escaped).
        user: String,
        /// Its uid (never 0: a privileged `--user` is refused).
        uid: u32,
        /// Its primary gid (never 0).
        gid: u32,
    },
    /// Started with capabilities (from the binary's file capabilities):
    /// all of them are gone.
    Capabilities,
    /// Started as a plain user: nothing to give up (`no_new_privs` is set
    /// all the same).
    Nothing,
}

impl Dropped {
    /// In words, for a note.
    pub fn describe(&self) -> String {
        match self {
            Dropped::Root { user, uid, gid } => format!(
                "dropped root: running as {} (uid {uid}, gid {gid}) without capabilities",
                crate::text::escape(user.as_bytes())
            ),
            Dropped::Capabilities => "dropped every capability".to_string(),
            Dropped::Nothing => "running without privileges".to_string(),
        }
    }
}

/// Drops to `user` if started as root, drops every capability and sets
/// `no_new_privs`; an error says what could not be done.
pub fn drop_privileges(user: &str) -> Result<Dropped, String> {
    single_threaded()?;
    let had_capabilities = !read(CapSet::Permitted)?.is_empty();
    let dropped = if started_as_root() {
        let target = lookup(user)?;
        clear_bounding_set()?;
        switch_user(&target)?;
        Dropped::Root {
            user: target.name.clone(),
            uid: target.uid.as_raw(),
            gid: target.gid.as_raw(),
        }
    } else if had_capabilities {
        // Emptying the bounding set needs CAP_SETPCAP, which file
        // capabilities rarely grant; with no_new_privs set below, no
        // execve can use it anyway.
        if read(CapSet::Effective)?.contains(&caps::Capability::CAP_SETPCAP) {
            clear_bounding_set()?;
        }
        Dropped::Capabilities
    } else {
        Dropped::Nothing
    };
    clear_capabilities()?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("setting no_new_privs: {e}"))?;
    verify(&dropped)?;
    Ok(dropped)
}

/// Whether any of the process's uids is root: then it changes user
/// (`--user` applies only then).
pub fn started_as_root() -> bool {
    nix::unistd::getresuid()
        .is_ok_and(|ids| ids.real.is_root() || ids.effective.is_root() || ids.saved.is_root())
}

fn single_threaded() -> Result<(), String> {
    // Without /proc the count is unknown; the caller drops before it
    // starts any thread.
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Ok(());
    };
    let threads = tasks.count();
    if threads > 1 {
        return Err(format!(
            "cannot drop privileges with {threads} threads running (capabilities are per thread)"
        ));
    }
    Ok(())
}

/// The unprivileged user to become: it must exist and not be root.
fn lookup(name: &str) -> Result<User, String> {
    let shown = crate::text::escape(name.as_bytes());
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up user {shown}: {e}"))?
        .ok_or_else(|| format!("no such user {shown} (--user)"))?;
    if user.uid.is_root() || user.gid.as_raw() == 0 {
        return Err(format!(
            "--user {shown} has uid {} and gid {}: it must be an unprivileged user",
            user.uid, user.gid
        ));
    }
    Ok(user)
}

/// Groups, then gid, then uid: each step needs the privileges the next
/// one gives up.
fn switch_user(user: &User) -> Result<(), String> {
    let name = CString::new(user.name.as_str())
        .map_err(|_| "the user name holds a NUL byte".to_string())?;
    let groups = nix::unistd::getgrouplist(&name, user.gid)
        .map_err(|e| format!("cannot list the groups of {}: {e}", user.name))?;
    nix::unistd::setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    let gid = user.gid;
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setresgid({gid}): {e}"))?;
    let uid = user.uid;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setresuid({uid}): {e}"))?;
    Ok(())
}

fn clear_bounding_set() -> Result<(), String> {
    caps::clear(None, CapSet::Bounding)
        .map_err(|e| format!("emptying the capability bounding set: {e}"))
}

fn clear_capabilities() -> Result<(), String> {
    // Ambient first: it may only hold what is permitted and inheritable.
    for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Permitted] {
        caps::clear(None, set).map_err(|e| format!("emptying the {set:?} capabilities: {e}"))?;
    }
    Ok(())
}

fn read(set: CapSet) -> Result<caps::CapsHashSet, String> {
    caps::read(None, set).map_err(|e| format!("reading the {set:?} capabilities: {e}"))
}

/// Checks the outcome rather than trusting each call's status.
fn verify(dropped: &Dropped) -> Result<(), String> {
    for set in [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Inheritable,
        CapSet::Ambient,
    ] {
        let left = read(set)?;
        if !left.is_empty() {
            return Err(format!("{set:?} capabilities remain: {left:?}"));
        }
    }
    if !nix::sys::prctl::get_no_new_privs().unwrap_or(false) {
        return Err("no_new_privs is not set".to_string());
    }
    if let Dropped::Root { uid, gid, .. } = dropped {
        let (uid, gid) = (Uid::from_raw(*uid), Gid::from_raw(*gid));
        let uids = nix::unistd::getresuid().map_err(|e| format!("getresuid: {e}"))?;
        let gids = nix::unistd::getresgid().map_err(|e| format!("getresgid: {e}"))?;
        if [uids.real, uids.effective, uids.saved] != [uid; 3]
            || [gids.real, gids.effective, gids.saved] != [gid; 3]
        {
            return Err(format!("the user ids are {uids:?} and {gids:?}"));
        }
        if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err("root could be regained after dropping it".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_in_words_escape_the_user_name() {
        let d = Dropped::Root {
            user: "evil\u{202e}".to_string(),
            uid: 65534,
            gid: 65534,
        };
        let text = d.describe();
        assert!(text.contains("uid 65534, gid 65534"), "{text}");
        assert!(!text.contains('\u{202e}'), "{text}");
    }
}
