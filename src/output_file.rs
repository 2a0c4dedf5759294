//! Creating the files stripwatch writes: hash files, evidence pcaps, live
//! captures. Each holds captured traffic or crackable material, and
//! stripwatch may run as root in a directory other users can write to, so
//! every output goes through here:
//!
//! - a file is created new (`O_CREAT | O_EXCL | O_NOFOLLOW`): a symlink or a
//!   file planted at its name is never followed, truncated or appended to;
//! - its mode is 0600, whatever the umask;
//! - an existing name is an error that names it, unless [`IfExists::Replace`]
//!   (`--force`): then a file created new under a temporary name in the same
//!   directory is renamed over it, which replaces a link itself, never its
//!   target;
//! - an output directory stripwatch creates is 0700; an existing one is
//!   refused when others may swap the files in it (see [`OutputDir::open`]).

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Files: read and written by their owner only.
const FILE_MODE: u32 = 0o600;
/// Directories stripwatch creates.
const DIR_MODE: u32 = 0o700;
/// Attempts at a temporary name nobody else took.
const TEMP_ATTEMPTS: u32 = 64;

/// What to do when an output's name is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfExists {
    /// An error naming the file (exit status 2).
    Fail,
    /// Replace it (`--force`).
    Replace,
}

impl IfExists {
    /// From the `--force` flag.
    pub fn from_force(force: bool) -> Self {
        if force {
            IfExists::Replace
        } else {
            IfExists::Fail
        }
    }
}

/// Creates the file `path` (see the module's rules).
pub fn create(path: &Path, if_exists: IfExists) -> io::Result<File> {
    let (parent, name) = split(path)?;
    let dir = rustix::fs::openat(
        CWD,
        parent,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| named(parent, e.into()))?;
    create_in(&dir, name, path, if_exists)
}

/// A directory that output files are created in, held open so that its
/// files land in the directory that was checked, whatever happens to its
/// name meanwhile.
#[derive(Debug)]
pub struct OutputDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl OutputDir {
    /// Creates `path` (0700, with any missing parents) or opens it when it
    /// exists. An existing directory is refused when it is a symbolic link,
    /// or writable by group or others unless it is sticky (like `/tmp`) and
    /// owned by this user or root: in those, another user could replace the
    /// files written.
    pub fn open(path: &Path) -> io::Result<Self> {
        // Without its trailing `/`, which would make the kernel follow a link.
        let path: &Path = &path.components().collect::<PathBuf>();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::os::unix::fs::DirBuilderExt::mode(
                std::fs::DirBuilder::new().recursive(true),
                DIR_MODE,
            )
            .create(parent)
            .map_err(|e| named(parent, e))?;
        }
        let created = match rustix::fs::mkdirat(CWD, path, Mode::from_raw_mode(DIR_MODE)) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            Err(e) => return Err(named(path, e.into())),
        };
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => named(
                path,
                io::Error::other("not a directory (a symbolic link is not followed here)"),
            ),
            e => named(path, e.into()),
        })?;
        if created {
            // The umask may have taken bits away; 0700 is what was asked.
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(DIR_MODE))
                .map_err(|e| named(path, e.into()))?;
        }
        check_dir(&fd, path)?;
        Ok(OutputDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The directory's path as given; files are created through its open descriptor, not this path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file `from` of this directory to `to` (a file name):
    /// an existing `to` is an error unless `if_exists` replaces it (a
    /// regular file or a link, as [`Self::create`] would).
    #[cfg(feature = "live")]
    pub(crate) fn rename(&self, from: &str, to: &str, if_exists: IfExists) -> io::Result<()> {
        let path = self.path.join(to);
        if [from, to]
            .iter()
            .any(|n| n.is_empty() || n.contains('/') || *n == "." || *n == "..")
        {
            return Err(named(&path, io::Error::other("not a file name")));
        }
        let result = match if_exists {
            IfExists::Fail => rustix::fs::renameat_with(
                &self.fd,
                from,
                &self.fd,
                to,
                rustix::fs::RenameFlags::NOREPLACE,
            ),
            IfExists::Replace => {
                if let Ok(there) = rustix::fs::statat(&self.fd, to, AtFlags::SYMLINK_NOFOLLOW) {
                    let kind = rustix::fs::FileType::from_raw_mode(there.st_mode);
                    if !matches!(
                        kind,
                        rustix::fs::FileType::RegularFile | rustix::fs::FileType::Symlink
                    ) {
                        return Err(named(
                            &path,
                            io::Error::new(
                                io::ErrorKind::AlreadyExists,
                                "exists and is not a regular file or a link: not replaced",
                            ),
                        ));
                    }
                }
                rustix::fs::renameat(&self.fd, from, &self.fd, to)
            }
        };
        result.map_err(|e| named(&path, e.into()))
    }

    /// Creates the file `name` in this directory (see the module's rules).
    pub fn create(&self, name: &str, if_exists: IfExists) -> io::Result<File> {
        let path = self.path.join(name);
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(named(&path, io::Error::other("not a file name")));
        }
        create_in(&self.fd, OsStr::new(name), &path, if_exists)
    }
}

/// Refuses a directory whose files others could replace.
fn check_dir(fd: &OwnedFd, path: &Path) -> io::Result<()> {
    let stat = rustix::fs::fstat(fd).map_err(|e| named(path, e.into()))?;
    let mode = stat.st_mode;
    let others_write = mode & 0o022 != 0;
    let sticky = mode & 0o1000 != 0;
    let owner = stat.st_uid;
    let trusted_owner = owner == 0 || owner == rustix::process::geteuid().as_raw();
    if others_write && !(sticky && trusted_owner) {
        return Err(named(
            path,
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "refused as an output directory: writable by other users (mode {:o}); \
                     use a directory only you can write to",
                    mode & 0o7777
                ),
            ),
        ));
    }
    Ok(())
}

/// Creates `name` in `dir`; `path` names it in errors.
fn create_in(dir: &OwnedFd, name: &OsStr, path: &Path, if_exists: IfExists) -> io::Result<File> {
    let fd = match open_new(dir, name) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::EXIST) if if_exists == IfExists::Replace => {
            replace(dir, name).map_err(|e| named(path, e))?
        }
        Err(rustix::io::Errno::EXIST) => {
            return Err(named(
                path,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "already exists (--force replaces it)",
                ),
            ));
        }
        Err(e) => return Err(named(path, e.into())),
    };
    // The mode given at creation went through the umask; this one does not.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(FILE_MODE)).map_err(|e| named(path, e.into()))?;
    Ok(File::from(fd))
}

/// `O_CREAT | O_EXCL | O_NOFOLLOW`: fails on any existing name, links included.
fn open_new(dir: &impl AsFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(FILE_MODE),
    )
}

/// A new file under a temporary name, renamed over `name` at once: the
/// name then refers to it, whatever was there (a link is replaced, its
/// target untouched).
fn replace(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    // A file or a link to anything is replaced; a device, FIFO, socket or
    // directory is never an output someone meant to overwrite.
    let there = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let kind = rustix::fs::FileType::from_raw_mode(there.st_mode);
    if !matches!(
        kind,
        rustix::fs::FileType::RegularFile | rustix::fs::FileType::Symlink
    ) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a regular file or a link: not replaced",
        ));
    }
    for _ in 0..TEMP_ATTEMPTS {
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(
            ".stripwatch-{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let fd = match open_new(dir, &temp) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = rustix::fs::renameat(dir, &temp, dir, name) {
            let _ = rustix::fs::unlinkat(dir, &temp, AtFlags::empty());
            return Err(e.into());
        }
        return Ok(fd);
    }
    Err(io::Error::other("no free temporary name"))
}

/// The directory (`.` when none is given) and the file name of `path`.
fn split(path: &Path) -> io::Result<(&Path, &OsStr)> {
    let name = path
        .file_name()
        .filter(|_| !path.as_os_str().as_bytes().ends_with(b"/"))
        .ok_or_else(|| named(path, io::Error::other("not a file name")))?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((parent, name))
}

/// `e` with the path it concerns in front.
fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "stripwatch-output-file-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_file_is_0600_and_an_existing_name_is_refused_unless_replaced() {
        let dir = scratch("file");
        let path = dir.join("out.txt");
        create(&path, IfExists::Fail)
            .unwrap()
            .write_all(b"one")
            .unwrap();
        assert_eq!(mode(&path), 0o600);
        let e = create(&path, IfExists::Fail).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("out.txt"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        create(&path, IfExists::Replace)
            .unwrap()
            .write_all(b"two")
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_at_the_name_is_never_followed() {
        let dir = scratch("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = create(&link, IfExists::Fail).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
        // Replaced: the link itself, the victim untouched.
        create(&link, IfExists::Replace)
            .unwrap()
            .write_all(b"out")
            .unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(std::fs::read(&link).unwrap(), b"out");
        // Only files and links are replaced, never a FIFO or a device.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let e = create(&fifo, IfExists::Replace).unwrap_err();
        assert!(e.to_string().contains("not replaced"), "{e}");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        // A dangling link is not followed either (it would create its target).
        let dangling = dir.join("dangling");
        std::os::unix::fs::symlink(dir.join("created-through-link"), &dangling).unwrap();
        assert!(create(&dangling, IfExists::Fail).is_err());
        assert!(!dir.join("created-through-link").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn directories_are_0700_when_created_and_refused_when_others_can_write() {
        let dir = scratch("dir");
        let made = dir.join("a/b");
        let out = OutputDir::open(&made).unwrap();
        assert_eq!(mode(&made), 0o700);
        out.create("x.pcap", IfExists::Fail).unwrap();
        assert_eq!(mode(&made.join("x.pcap")), 0o600);
        assert!(out.create("../escape", IfExists::Fail).is_err());
        // Existing and private: accepted as it is.
        let own = dir.join("own");
        std::fs::create_dir(&own).unwrap();
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
        OutputDir::open(&own).unwrap();
        assert_eq!(mode(&own), 0o755);
        for refused in [0o777, 0o775, 0o757] {
            std::fs::set_permissions(&own, std::fs::Permissions::from_mode(refused)).unwrap();
            let e = OutputDir::open(&own).unwrap_err();
            assert!(e.to_string().contains("writable by other users"), "{e}");
        }
        // Sticky and ours, like /tmp: accepted.
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o1777)).unwrap();
        OutputDir::open(&own).unwrap();
        // A link to a directory is not followed.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&made, &link).unwrap();
        let e = OutputDir::open(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
