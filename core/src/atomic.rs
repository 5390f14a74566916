//! Atomic file writes: the bytes go to a temporary file in the target's
//! folder, which then replaces the target in one rename (`tempfile`'s
//! `persist`). A crash or a full disk leaves the old file or none, never
//! half a bundle, checkpoint or cache.

use std::io;
use std::path::Path;

/// Writes `bytes` to `path` atomically. Errors are the OS's (creating the
/// temporary file, writing, renaming); callers add the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| std::fs::write(tmp, bytes))
}

/// Atomically creates `path` from what `write` writes to the temporary
/// file whose path it is given (for writers that take a path, such as
/// safetensors'). The temporary file is removed if `write` fails.
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".taxa-").suffix(".partial");
    // The mode `std::fs::write` gives (0666 less the umask), not tempfile's private 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder.tempfile_in(dir).map_err(without_temporary_path)?;
    write(tmp.path())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// tempfile names its own temporary file in the error's text ("… at path
/// \"dir/.taxa-x.partial\""; its error type is private); callers name the
/// target, so only the OS's part is kept.
fn without_temporary_path(error: io::Error) -> io::Error {
    let text = error.to_string();
    match text.rsplit_once(" at path \"") {
        Some((os_part, _)) => io::Error::new(error.kind(), os_part.to_string()),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let failed = write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"two", "a failed write keeps the old file");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        // A folder that cannot take the file: the OS's error, without the temporary name.
        let error = write_atomic(&dir.path().join("missing/a.json"), b"x").unwrap_err();
        assert_eq!((error.kind(), error.to_string()), (io::ErrorKind::NotFound, "No such file or directory (os error 2)".to_string()));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_gets_the_usual_mode_not_a_private_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (atomic, plain) = (dir.path().join("atomic"), dir.path().join("plain"));
        write_atomic(&atomic, b"x").unwrap();
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
    }
}
