//! Registry latency on a registry of 10,000 versions (100 models × 100 versions), in process.
//!
//!     cargo bench -p slipway-store --bench registry
//!
//! Goals: "what is live" and get-by-alias under 1 ms p99; a promotion (policy check,
//! transition, history, audit entry, commit) under 5 ms p99. Prints p50/p99/max per operation.

use slipway_core::Digest;
use slipway_core::registry::{Action, Actor, Components, Request, Role};
use slipway_store::SqliteStore;
use slipway_store::registry::{NewModel, NewVersion, RegistryStore};
use std::time::{Duration, Instant};

const MODELS: u64 = 100;
const VERSIONS: u64 = 100;

fn admin() -> Actor {
    Actor::new("bench", Role::Admin)
}

fn promote(version: u64, t: i64) -> Request {
    Request {
        actor: admin(),
        time_ms: t,
        action: Action::Promote {
            version,
            aliases: vec!["champion".into()],
        },
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{name:<22} n={:<6} p50 {:>8.1} µs   p99 {:>8.1} µs   max {:>8.1} µs",
        samples.len(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples.last().unwrap().as_secs_f64() * 1e6
    );
}

fn main() {
    // With SLIPWAY_BENCH_PROJECT=DIR the registry is built in a project there (for the HTTP
    // benchmark, bench/registry_http.sh, which then serves it).
    let dir = tempfile::tempdir().unwrap();
    let db = match std::env::var_os("SLIPWAY_BENCH_PROJECT") {
        Some(project) => {
            let project = std::path::PathBuf::from(project);
            let (ws, _) = slipway_store::Workspace::init(&project).unwrap();
            ws.meta().path().to_path_buf()
        }
        None => dir.path().join("metadata.db"),
    };
    let store = SqliteStore::open(&db).unwrap();
    let setup = Instant::now();
    for m in 0..MODELS {
        let name = format!("model-{m:03}");
        store
            .create_model(
                &NewModel {
                    name: name.clone(),
                    ..NewModel::default()
                },
                &admin(),
                1,
            )
            .unwrap();
        for v in 0..VERSIONS {
            let new = NewVersion {
                model: name.clone(),
                artifact: Some(Digest::of(format!("{m}/{v}").as_bytes())),
                components: Components::default(),
                ..NewVersion::default()
            };
            store.register_version(&new, &admin(), 2).unwrap();
        }
        store
            .transition(&name, "default", &promote(VERSIONS - 1, 10))
            .unwrap();
        store
            .transition(&name, "default", &promote(VERSIONS, 20))
            .unwrap();
    }
    println!(
        "registry of {} versions built in {:.1?}",
        MODELS * VERSIONS,
        setup.elapsed()
    );

    let rounds = 5_000;
    let model = |i: u64| format!("model-{:03}", (i * 37) % MODELS);
    let mut live = Vec::with_capacity(rounds);
    let mut as_of = Vec::with_capacity(rounds);
    let mut alias = Vec::with_capacity(rounds);
    for i in 0..rounds as u64 {
        let m = model(i);
        let t = Instant::now();
        std::hint::black_box(store.live(&m, "default", None).unwrap());
        live.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(store.live(&m, "default", Some(15)).unwrap());
        as_of.push(t.elapsed());
        let t = Instant::now();
        let v = store.alias(&m, "champion").unwrap().unwrap();
        std::hint::black_box(store.version(&m, v).unwrap());
        alias.push(t.elapsed());
    }
    let mut promotions = Vec::with_capacity(2_000);
    for i in 0..2_000u64 {
        let m = model(i);
        let current = store.live(&m, "default", None).unwrap().unwrap().number();
        let target = if current == VERSIONS {
            VERSIONS - 1
        } else {
            VERSIONS
        };
        let t = Instant::now();
        store
            .transition(&m, "default", &promote(target, 1_000 + i as i64))
            .unwrap();
        promotions.push(t.elapsed());
    }
    report("live (now)", live);
    report("live (as of)", as_of);
    report("version by alias", alias);
    report("promote", promotions);
}
