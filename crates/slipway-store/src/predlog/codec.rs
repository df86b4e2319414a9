//! The frame format of a segment. Every frame is `[u32 length][u32 CRC-32 of the payload]
//! [payload]` (little-endian); the payload's first byte says what it is:
//!
//! - `1` stream: `u32 stream id, u64 version, str model, str slot, u16 n, n × str feature`
//! - `2` prediction: `u32 stream id, [16] id, u32 latency µs, u8 route, f64 output,
//!   u16 n, n × f64 input` (inputs in the stream's feature order)
//!
//! where `str` is `u16 length + UTF-8`. A frame whose length runs past the end of the file or
//! whose CRC does not match ends the readable part of a segment (a torn write).

use super::id::PredictionId;
use std::sync::Arc;

pub(crate) const STREAM: u8 = 1;
pub(crate) const PREDICTION: u8 = 2;
/// Frame header bytes.
pub(crate) const HEADER: usize = 8;
/// The largest payload a reader accepts (a guard against garbage lengths).
pub(crate) const MAX_PAYLOAD: usize = 16 << 20;

/// Which way a request was routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// The slot's Production version answered.
    Champion,
    /// The canary challenger answered (its output was returned).
    Canary,
    /// The shadow challenger ran on a mirrored request (its output was logged, not returned).
    Shadow,
}

impl Route {
    /// `champion`, `canary` or `shadow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Champion => "champion",
            Route::Canary => "canary",
            Route::Shadow => "shadow",
        }
    }

    fn code(self) -> u8 {
        match self {
            Route::Champion => 0,
            Route::Canary => 1,
            Route::Shadow => 2,
        }
    }

    fn from_code(code: u8) -> Option<Route> {
        Some(match code {
            0 => Route::Champion,
            1 => Route::Canary,
            2 => Route::Shadow,
            _ => return None,
        })
    }
}

/// A stream declaration: what the inputs of its predictions are.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StreamDecl {
    pub model: String,
    pub slot: String,
    pub version: u64,
    pub features: Arc<Vec<String>>,
}

/// One logged prediction, as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionRecord {
    /// Its id (which carries its time).
    pub id: PredictionId,
    /// The model.
    pub model: String,
    /// The deployment slot.
    pub slot: String,
    /// The version that answered.
    pub version: u64,
    /// Champion, canary or shadow.
    pub route: Route,
    /// The input feature names, in the order of `inputs` (shared by a stream's records).
    pub features: Arc<Vec<String>>,
    /// The inputs.
    pub inputs: Vec<f64>,
    /// The model's output.
    pub output: f64,
    /// Time the model took, in microseconds.
    pub latency_us: u32,
}

impl PredictionRecord {
    /// Unix milliseconds of the prediction.
    pub fn time_ms(&self) -> i64 {
        self.id.time_ms()
    }

    /// The value of a named input, if the record has it.
    pub fn input(&self, name: &str) -> Option<f64> {
        self.features
            .iter()
            .position(|f| f == name)
            .map(|i| self.inputs[i])
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Appends a framed payload built by `body` to `out`.
fn frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER]);
    body(out);
    let payload = &out[start + HEADER..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

pub(crate) fn encode_stream(out: &mut Vec<u8>, id: u32, decl: &StreamDecl) {
    frame(out, |p| {
        p.push(STREAM);
        p.extend_from_slice(&id.to_le_bytes());
        p.extend_from_slice(&decl.version.to_le_bytes());
        put_str(p, &decl.model);
        put_str(p, &decl.slot);
        p.extend_from_slice(&(decl.features.len() as u16).to_le_bytes());
        for f in decl.features.iter() {
            put_str(p, f);
        }
    });
}

/// The parts of a prediction frame.
pub(crate) struct PredictionFrame<'a> {
    pub stream: u32,
    pub id: PredictionId,
    pub latency_us: u32,
    pub route: Route,
    pub output: f64,
    pub inputs: &'a [f64],
}

pub(crate) fn encode_prediction(out: &mut Vec<u8>, p: &PredictionFrame<'_>) {
    frame(out, |b| {
        b.push(PREDICTION);
        b.extend_from_slice(&p.stream.to_le_bytes());
        b.extend_from_slice(&p.id.to_bytes());
        b.extend_from_slice(&p.latency_us.to_le_bytes());
        b.push(p.route.code());
        b.extend_from_slice(&p.output.to_le_bytes());
        let n = p.inputs.len().min(u16::MAX as usize);
        b.extend_from_slice(&(n as u16).to_le_bytes());
        for x in &p.inputs[..n] {
            b.extend_from_slice(&x.to_le_bytes());
        }
    });
}

/// A decoded payload.
pub(crate) enum Decoded {
    Stream(u32, StreamDecl),
    Prediction {
        stream: u32,
        id: PredictionId,
        latency_us: u32,
        route: Route,
        output: f64,
        inputs: Vec<f64>,
    },
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
    fn f64(&mut self) -> Option<f64> {
        self.u64().map(f64::from_bits)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// Decodes a payload whose CRC already matched; `None` if it is malformed.
pub(crate) fn decode(payload: &[u8]) -> Option<Decoded> {
    let mut c = Cursor(payload);
    match c.u8()? {
        STREAM => {
            let id = c.u32()?;
            let version = c.u64()?;
            let model = c.str()?;
            let slot = c.str()?;
            let n = c.u16()? as usize;
            let features = (0..n).map(|_| c.str()).collect::<Option<Vec<_>>>()?;
            Some(Decoded::Stream(
                id,
                StreamDecl {
                    model,
                    slot,
                    version,
                    features: Arc::new(features),
                },
            ))
        }
        PREDICTION => {
            let stream = c.u32()?;
            let id = PredictionId::from_bytes(c.take(16)?.try_into().ok()?);
            let latency_us = c.u32()?;
            let route = Route::from_code(c.u8()?)?;
            let output = c.f64()?;
            let n = c.u16()? as usize;
            let inputs = (0..n).map(|_| c.f64()).collect::<Option<Vec<_>>>()?;
            Some(Decoded::Prediction {
                stream,
                id,
                latency_us,
                route,
                output,
                inputs,
            })
        }
        _ => None,
    }
}

/// Splits the frame at the start of `buf`: `Some((payload, frame length))` when a whole frame
/// with a matching CRC is there, `None` at a torn or corrupt frame.
pub(crate) fn split_frame(buf: &[u8]) -> Option<(&[u8], usize)> {
    if buf.len() < HEADER {
        return None;
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().ok()?);
    if len == 0 || len > MAX_PAYLOAD || buf.len() < HEADER + len {
        return None;
    }
    let payload = &buf[HEADER..HEADER + len];
    (crc32fast::hash(payload) == crc).then_some((payload, HEADER + len))
}
