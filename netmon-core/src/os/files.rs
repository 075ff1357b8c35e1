//! Files a root process writes on a user's or the system's behalf (`netmon install`): created
//! with their owner and mode without following a symbolic link at the file itself, and the
//! check that a program root will run cannot be changed by anyone but root.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` with `mode`, owned by `owner` (uid, gid) when given (root only).
/// A symbolic link at `path` is refused: root must not write through a link a user planted.
pub fn write_owned(
    path: &Path,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Err(io::Error::other(
            "it is a symbolic link; remove it and try again",
        ));
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
    }
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)
}

/// Creates `path` and its missing parents with `mode`, owned by `owner` when given; directories
/// that exist are left as they are.
pub fn create_owned_dir(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> io::Result<()> {
    let missing: Vec<&Path> = path
        .ancestors()
        .take_while(|ancestor| fs::symlink_metadata(ancestor).is_err())
        .collect();
    missing.into_iter().rev().try_for_each(|dir| {
        fs::create_dir(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
        owner.map_or(Ok(()), |(uid, gid)| {
            std::os::unix::fs::lchown(dir, Some(uid), Some(gid))
        })
    })
}

/// The first of `path` and its directories that someone other than root could change, and
/// why: owned by another user, or writable by group or others (a world-writable directory
/// with the sticky bit, such as /tmp, only lets owners replace their entries, and each entry
/// below it is checked too). `None` when only root can change the program.
pub fn changeable_by_others(path: &Path) -> Option<(PathBuf, String)> {
    path.ancestors().find_map(|ancestor| {
        let meta = match fs::metadata(ancestor) {
            Ok(meta) => meta,
            Err(error) => return Some((ancestor.to_path_buf(), error.to_string())),
        };
        let mode = meta.mode();
        let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
        if meta.uid() != 0 {
            Some((
                ancestor.to_path_buf(),
                format!("owned by uid {}", meta.uid()),
            ))
        } else if mode & 0o022 != 0 && !sticky_dir {
            Some((
                ancestor.to_path_buf(),
                format!("writable by group or others (mode {:o})", mode & 0o7777),
            ))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "kept").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = write_owned(&link, b"x", 0o644, None).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "kept");

        let file = dir.path().join("a/b/file");
        create_owned_dir(file.parent().unwrap(), 0o700, None).unwrap();
        write_owned(&file, b"new", 0o644, None).unwrap();
        let mode = fs::metadata(&file).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let mode = fs::metadata(dir.path().join("a")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_program_others_can_change_is_named_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let program = dir.path().join("netmon");
        fs::write(&program, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            changeable_by_others(&program),
            None,
            "root's, under sticky /tmp"
        );
        fs::set_permissions(&program, fs::Permissions::from_mode(0o757)).unwrap();
        let (path, why) = changeable_by_others(&program).unwrap();
        assert_eq!(path, program);
        assert!(why.contains("writable by group or others"), "{why}");
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&program, Some(65534), None).unwrap();
        let (_, why) = changeable_by_others(&program).unwrap();
        assert_eq!(why, "owned by uid 65534");
    }
}
