//! Every harness over its committed corpus (and a few hostile extras), so CI
//! exercises the fuzz targets without AFL.

use std::path::Path;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {name}");
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn wire_corpus() {
    for (name, data) in corpus("wire") {
        eprintln!("{name}");
        passt_fuzz::wire_frame(&data);
        // Every truncation of a real frame must be handled too.
        for cut in 0..data.len() {
            passt_fuzz::wire_frame(&data[..cut]);
        }
    }
}

#[test]
fn engine_corpus() {
    for (name, data) in corpus("engine") {
        eprintln!("{name}");
        passt_fuzz::engine_frames(&data);
    }
}
