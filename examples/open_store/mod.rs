//! The terminal's store for the examples that take `--store PATH` (`transit_gate`, `taxi_pos`):
//! the caller's file, or a temporary one removed when the program ends.

use std::path::{Path, PathBuf};

use quickpass::store::Store;

/// The store, and the temporary file to remove when it is not the caller's.
pub struct OpenStore {
    /// The open store.
    pub store: Store,
    temporary: Option<PathBuf>,
}

impl Drop for OpenStore {
    fn drop(&mut self) {
        if let Some(path) = self.temporary.take() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

/// Opens the store at `path`, or a temporary one named after `program` when there is none.
pub fn open_store(path: Option<&Path>, program: &str) -> Result<OpenStore, String> {
    let (path, temporary) = match path {
        Some(path) => (path.to_path_buf(), None),
        None => {
            let path =
                std::env::temp_dir().join(format!("quickpass-{program}-{}.db", std::process::id()));
            (path.clone(), Some(path))
        }
    };
    // The temporary file is removed even when the open fails half-way.
    let store = Store::open(&path).map_err(|e| {
        if let Some(path) = &temporary {
            let _ = std::fs::remove_file(path);
        }
        format!("store: {}", quickpass::report::error_chain(&e))
    })?;
    Ok(OpenStore { store, temporary })
}
