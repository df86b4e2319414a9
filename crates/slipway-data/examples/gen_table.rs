//! Writes a synthetic table for the benchmarks: `ROWS` rows of `COLS` float columns `f00…`
//! (feature j ~ Normal(μ_j, σ_j)) and a 0/1 `label` drawn from a logistic model of the
//! features, as Parquet (Snappy) or CSV by the file's extension. Deterministic.
//!
//!     cargo run --release -p slipway-data --example gen_table -- OUT ROWS COLS [SHIFT [SEED]]
//!
//! `SHIFT` moves `f00…f04` by that many standard deviations; `SEED` picks the sample.

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::io::Write;
use std::sync::Arc;

struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: gen_table OUT ROWS COLS [SHIFT [SEED]]");
        std::process::exit(2);
    }
    let out = &args[1];
    let rows: usize = args[2].parse().expect("ROWS");
    let cols: usize = args[3].parse().expect("COLS");
    let shift: f64 = args
        .get(4)
        .map(|s| s.parse().expect("SHIFT"))
        .unwrap_or(0.0);
    let mut rng = Rng(42);
    let mu: Vec<f64> = (0..cols).map(|_| rng.uniform() * 10.0 - 5.0).collect();
    let sigma: Vec<f64> = (0..cols).map(|_| 0.5 + rng.uniform() * 2.5).collect();
    let weights: Vec<f64> = (0..cols)
        .map(|j| if j % 3 == 0 { 0.8 } else { -0.3 })
        .collect();
    let seed: u64 = args.get(5).map(|s| s.parse().expect("SEED")).unwrap_or(7);
    let mut data = Rng(seed);
    let batch_rows = 65_536;
    let mut fields: Vec<Field> = (0..cols)
        .map(|j| Field::new(format!("f{j:02}"), DataType::Float64, false))
        .collect();
    fields.push(Field::new("label", DataType::Int64, false));
    let schema = Arc::new(Schema::new(fields));
    let parquet = out.ends_with(".parquet");
    let file = std::fs::File::create(out).expect("create OUT");
    let mut writer = parquet.then(|| {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        ArrowWriter::try_new(file.try_clone().unwrap(), schema.clone(), Some(props)).unwrap()
    });
    let mut csv = (!parquet).then(|| std::io::BufWriter::new(file));
    if let Some(w) = &mut csv {
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        writeln!(w, "{}", names.join(",")).unwrap();
    }
    let mut done = 0;
    while done < rows {
        let n = batch_rows.min(rows - done);
        let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(n); cols];
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let mut z = 0.0;
            for j in 0..cols {
                let x =
                    mu[j] + sigma[j] * data.normal() + if j < 5 { shift * sigma[j] } else { 0.0 };
                z += weights[j] * (x - mu[j]) / sigma[j];
                columns[j].push(x);
            }
            labels.push(i64::from(data.uniform() < 1.0 / (1.0 + (-z).exp())));
        }
        if let Some(w) = &mut writer {
            let mut arrays: Vec<ArrayRef> = columns
                .into_iter()
                .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef)
                .collect();
            arrays.push(Arc::new(Int64Array::from(labels)));
            w.write(&RecordBatch::try_new(schema.clone(), arrays).unwrap())
                .unwrap();
        } else if let Some(w) = &mut csv {
            for i in 0..n {
                for c in &columns {
                    write!(w, "{},", c[i]).unwrap();
                }
                writeln!(w, "{}", labels[i]).unwrap();
            }
        }
        done += n;
    }
    if let Some(w) = writer {
        w.close().unwrap();
    }
    // The bench's schema: per column type, nullable, max_null_fraction, min, max, mean and std
    // ranges (9 expectations), from the generating distribution.
    let schema_out = format!("{out}.schema.yaml");
    let mut s = format!("rows: {{min: 1, max: {}}}\ncolumns:\n", rows * 2);
    for j in 0..cols {
        s.push_str(&format!(
            "  - {{name: f{j:02}, type: float, nullable: false, max_null_fraction: 0.0, min: {}, max: {}, mean: {{min: {}, max: {}}}, std: {{min: {}, max: {}}}}}\n",
            mu[j] - 10.0 * sigma[j],
            mu[j] + 10.0 * sigma[j],
            mu[j] - 0.1 * sigma[j],
            mu[j] + 0.1 * sigma[j],
            sigma[j] * 0.9,
            sigma[j] * 1.1
        ));
    }
    s.push_str("  - {name: label, type: int, nullable: false, allowed: [0, 1]}\n");
    std::fs::write(&schema_out, s).unwrap();
    eprintln!("wrote {out} ({rows} x {cols} + label) and {schema_out}");
}
