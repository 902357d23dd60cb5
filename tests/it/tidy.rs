//! Checks on the repository itself rather than on planet's behaviour (rust-analyzer keeps
//! the same kind in its `tidy.rs`): a clone must test on its own, every source file says
//! what it owns, and every copied data set carries its licence.

use std::path::{Path, PathBuf};

use crate::corpus::files_under;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder beside the working checkout that holds the data the corpus was copied from.
/// Spelled in two halves so that this file does not name it.
fn outside_folder() -> String {
    ["..", "/shared"].concat()
}

#[test]
fn nothing_in_the_repository_reads_a_folder_beside_the_checkout() {
    let needle = outside_folder();
    let mut offenders = Vec::new();
    for top in ["src", "tests", "benches", "scripts", ".ci"] {
        for path in files_under(&repository().join(top)) {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|window| window == needle.as_bytes()) {
                offenders.push(path.strip_prefix(repository()).unwrap().display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "these files name {needle}, which a clone of planet does not have; copy what they use into \
         tests/data/ with its licence: {offenders:#?}"
    );
}

#[test]
fn every_rust_file_opens_with_a_line_saying_what_it_owns() {
    let mut missing = Vec::new();
    for top in ["src", "tests/it", "benches"] {
        for path in files_under(&repository().join(top)) {
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                if !text.starts_with("//!") {
                    missing.push(path.strip_prefix(repository()).unwrap().display().to_string());
                }
            }
        }
    }
    assert!(missing.is_empty(), "these files do not open with a //! comment: {missing:#?}");
}

#[test]
fn every_copied_data_set_has_its_licence_and_a_line_in_the_data_readme() {
    let data = repository().join("tests/data");
    let readme = std::fs::read_to_string(data.join("README.md")).unwrap();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(data.join("corpus")).unwrap().flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !has_licence(&path) {
            problems.push(format!("corpus/{name} has no LICENSE file"));
        }
        if !readme.contains(&format!("`corpus/{name}/")) {
            problems.push(format!("tests/data/README.md does not describe corpus/{name}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

fn has_licence(directory: &Path) -> bool {
    std::fs::read_dir(directory)
        .unwrap()
        .flatten()
        .any(|entry| entry.file_name().to_string_lossy().to_ascii_uppercase().starts_with("LICENSE"))
}
