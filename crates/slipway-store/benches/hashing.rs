//! In-process hashing benchmarks (divan): `cargo bench -p slipway-store --bench hashing`.
//! The whole-command comparison with cat/b3sum/sha256sum is `bench/hash_tree.sh`.

use slipway_store::{SqliteStore, TreeHasher};
use std::path::PathBuf;
use std::sync::OnceLock;

fn main() {
    divan::main();
}

const FILES: usize = 256;
const FILE_SIZE: usize = 256 << 10; // 64 MiB in all

struct Fixture {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    db: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for i in 0..FILES {
            let path = tree.join(format!("d{}/f{i:04}.bin", i % 8));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let bytes: Vec<u8> = (0..FILE_SIZE)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            std::fs::write(&path, bytes).unwrap();
            let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
        let db = dir.path().join("warm.db");
        let meta = SqliteStore::open(&db).unwrap();
        TreeHasher::new(&meta).hash(&tree).unwrap();
        Fixture {
            _dir: dir,
            tree,
            db,
        }
    })
}

/// Hashing every byte (empty stat cache each time; files in the page cache).
#[divan::bench(sample_count = 10)]
fn tree_uncached(bencher: divan::Bencher) {
    let f = fixture();
    bencher
        .counter(divan::counter::BytesCount::new(FILES * FILE_SIZE))
        .with_inputs(|| {
            let dir = tempfile::tempdir().unwrap();
            let meta = SqliteStore::open(dir.path().join("cold.db")).unwrap();
            (dir, meta)
        })
        .bench_local_values(|(_dir, meta)| TreeHasher::new(&meta).hash(&f.tree).unwrap());
}

/// Answering every file from the stat cache.
#[divan::bench(sample_count = 20)]
fn tree_stat_cached(bencher: divan::Bencher) {
    let f = fixture();
    let meta = SqliteStore::open(&f.db).unwrap();
    bencher.bench_local(|| TreeHasher::new(&meta).hash(&f.tree).unwrap());
}
