use super::*;
use std::sync::Arc;
use std::time::Duration;

fn stream(version: u64) -> Arc<Stream> {
    Arc::new(Stream {
        model: "credit".into(),
        slot: "default".into(),
        version,
        features: Arc::new(vec!["age".into(), "income".into()]),
    })
}

fn batch(
    handle: &LogHandle,
    s: &Arc<Stream>,
    ms: i64,
    rows: usize,
    route: Route,
) -> Vec<PredictionId> {
    let ids: Vec<PredictionId> = (0..rows).map(|_| handle.ids().next(ms)).collect();
    handle
        .append(writer::Batch {
            stream: Arc::clone(s),
            route,
            ids: ids.clone(),
            outputs: (0..rows).map(|r| r as f64 / 10.0).collect(),
            inputs: (0..rows * 2).map(|v| v as f64).collect(),
            latency_us: 42,
        })
        .unwrap();
    ids
}

fn all(dir: &std::path::Path) -> Vec<PredictionRecord> {
    let mut out = Vec::new();
    PredictionReader::new(dir)
        .scan(None, None, |r| {
            out.push(r);
            true
        })
        .unwrap();
    out
}

#[test]
fn records_read_back_with_inputs_by_name_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, writer) = LogWriter::start(dir.path(), LogConfig::default()).unwrap();
    let s = stream(3);
    let ids = batch(&handle, &s, 1_000_000, 3, Route::Champion);
    handle.flush().unwrap();
    // Readable while the writer is running (the open segment is scanned).
    assert_eq!(all(dir.path()).len(), 3);
    drop(handle);
    writer.join().unwrap();

    let (handle, writer) = LogWriter::start(dir.path(), LogConfig::default()).unwrap();
    let more = batch(&handle, &stream(4), 1_000_500, 1, Route::Shadow);
    drop(handle);
    writer.join().unwrap();

    let records = all(dir.path());
    assert_eq!(records.len(), 4);
    assert_eq!(records[1].id, ids[1]);
    assert_eq!(records[1].input("income"), Some(3.0));
    assert_eq!(records[1].output, 0.1);
    assert_eq!(records[1].version, 3);
    assert_eq!(records[3].route, Route::Shadow);
    assert_eq!(records[3].latency_us, 42);
    let found = PredictionReader::new(dir.path())
        .find(more[0])
        .unwrap()
        .unwrap();
    assert_eq!(found.version, 4);
    assert_eq!(found.time_ms(), 1_000_500);
    let segments = PredictionReader::new(dir.path()).segments().unwrap();
    assert_eq!(segments.len(), 2);
    assert!(segments.iter().all(|s| s.closed));
}

#[test]
fn rotation_keeps_every_record_and_lookups_use_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 4096,
        queue: 4,
        sync_every: Duration::from_millis(5),
    };
    let (handle, writer) = LogWriter::start(dir.path(), config).unwrap();
    let s = stream(1);
    let mut ids = Vec::new();
    for i in 0..3000 {
        ids.extend(batch(&handle, &s, 2_000_000 + i, 1, Route::Champion));
    }
    drop(handle);
    writer.join().unwrap();
    let reader = PredictionReader::new(dir.path());
    assert!(reader.segments().unwrap().len() > 10);
    assert_eq!(all(dir.path()).len(), 3000);
    for id in [ids[0], ids[1234], ids[2999]] {
        assert_eq!(reader.find(id).unwrap().unwrap().id, id);
    }
    let mut window = 0;
    reader
        .scan(Some(2_000_100), Some(2_000_200), |_| {
            window += 1;
            true
        })
        .unwrap();
    assert_eq!(window, 100);
}

#[test]
fn a_torn_tail_is_cut_on_recovery_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, writer) = LogWriter::start(dir.path(), LogConfig::default()).unwrap();
    batch(&handle, &stream(1), 5_000, 5, Route::Canary);
    drop(handle);
    writer.join().unwrap();
    // Simulate a crash mid-write of a later segment: no index, half a frame at the end.
    let seg = dir.path().join("000001.seg");
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::remove_file(dir.path().join("000001.idx")).unwrap();
    let mut torn = bytes.clone();
    // A header promising 100 bytes, followed by only three.
    torn.extend_from_slice(&[100, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9]);
    std::fs::write(&seg, &torn).unwrap();
    assert_eq!(all(dir.path()).len(), 5);
    let (handle, writer) = LogWriter::start(dir.path(), LogConfig::default()).unwrap();
    drop(handle);
    writer.join().unwrap();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), bytes.len() as u64);
    assert_eq!(all(dir.path()).len(), 5);
}

#[test]
fn a_second_writer_on_the_same_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_handle, _writer) = LogWriter::start(dir.path(), LogConfig::default()).unwrap();
    let err = LogWriter::start(dir.path(), LogConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("another server"), "{err}");
}

#[test]
fn ids_are_time_ordered_and_round_trip_as_text() {
    let ids = IdGenerator::new();
    let a = ids.next(1_700_000_000_000);
    let b = ids.next(1_700_000_000_000);
    let c = ids.next(1_700_000_000_001);
    assert!(a < b && b < c);
    assert_eq!(a.time_ms(), 1_700_000_000_000);
    assert_eq!(a.to_string().parse::<PredictionId>().unwrap(), a);
    assert!("xyz".parse::<PredictionId>().is_err());
}

#[test]
fn prune_deletes_only_closed_segments_older_than_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 2048,
        queue: 4,
        sync_every: Duration::from_millis(5),
    };
    let (handle, writer) = LogWriter::start(dir.path(), config).unwrap();
    let s = stream(1);
    for i in 0..400 {
        batch(&handle, &s, 10_000 + i, 1, Route::Champion);
    }
    handle.flush().unwrap();
    let reader = PredictionReader::new(dir.path());
    let before = reader.segments().unwrap();
    assert!(before.len() > 4);
    let (segments, records) = reader.prune(10_200).unwrap();
    assert!(segments > 0 && records > 0);
    let left = all(dir.path());
    assert_eq!(left.len() as u64, 400 - records);
    assert!(left.iter().all(|r| r.time_ms() >= 10_000));
    assert!(
        left.first().unwrap().time_ms() <= 10_200,
        "a segment holding newer records stays"
    );
    // The open segment survives any cutoff.
    reader.prune(i64::MAX).unwrap();
    assert!(reader.segments().unwrap().iter().any(|s| !s.closed));
    drop(handle);
    writer.join().unwrap();
}
