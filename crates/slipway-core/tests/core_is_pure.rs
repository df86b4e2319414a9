//! Architecture invariant: slipway-core does no I/O. It must never depend on an async runtime, a
//! database driver, an HTTP stack, a cloud SDK or a thread pool; this test reads the resolved
//! dependency tree and fails naming the offending crate.

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "futures",
    "mio",
    "hyper",
    "axum",
    "reqwest",
    "tower",
    "h2",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "object_store",
    "rustls",
    "ring",
    "aws-sdk-s3",
    "aws-config",
    "aws-lc-sys",
    "rayon",
    "rayon-core",
    "arrow",
    "parquet",
    "tract-onnx",
    "tract-core",
];

#[test]
fn core_has_no_io_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "slipway-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8");
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"slipway-core"),
        "unexpected cargo tree output:\n{tree}"
    );
    for name in &crates {
        assert!(
            !FORBIDDEN.contains(name),
            "slipway-core must stay pure, but depends on `{name}`:\n{tree}"
        );
    }
}
