//! Reading MLflow requests: JSON bodies (with a size limit and MLflow-shaped errors), query
//! strings with repeated keys, the protobuf-JSON leniencies of the client (int64 as number or
//! string, floats as `"NaN"`/`"Infinity"`), and the key rules MLflow enforces.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use futures_util::StreamExt;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::fmt;

/// A JSON request body, limited to [`crate::state::Limits::json_body`] bytes.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.limits().json_body;
        let too_large = || {
            ApiError::PayloadTooLarge(format!(
                "request body is larger than the {limit}-byte limit for JSON requests"
            ))
        };
        // Refuse early when the client announces the size; count otherwise.
        if let Some(length) = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && length > limit as u64
        {
            return Err(too_large());
        }
        let mut stream = request.into_body().into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::MalformedRequest(format!("cannot read request body: {e}"))
            })?;
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // MLflow treats a missing body as an empty message; required fields are then
            // reported by name.
            bytes = b"{}".to_vec();
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body, telling malformed JSON apart from well-formed JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::InvalidParameter(format!("invalid request: {e}"))
        }
        _ => ApiError::MalformedRequest(format!("request body is not valid JSON: {e}")),
    })
}

/// The query string as (key, value) pairs, repeated keys kept in order.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        Ok(QueryPairs(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl QueryPairs {
    /// The first value of `key`, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first present value among `keys` (e.g. `run_id` then `run_uuid`), or a
    /// missing-parameter error naming the first.
    pub fn required(&self, keys: &[&str]) -> Result<&str, ApiError> {
        keys.iter()
            .find_map(|k| self.get(k))
            .ok_or_else(|| ApiError::missing(keys[0]))
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// An optional integer.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::InvalidParameter(format!(
                        "parameter '{key}' must be an integer, got '{v}'"
                    ))
                })
            })
            .transpose()
    }
}

/// The first non-empty of two optional strings (MLflow's `run_id` / legacy `run_uuid`), or a
/// missing-parameter error.
pub fn either(
    first: &Option<String>,
    second: &Option<String>,
    name: &str,
) -> Result<String, ApiError> {
    first
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(second.as_deref().filter(|s| !s.is_empty()))
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing(name))
}

/// A required field.
pub fn required<T>(value: Option<T>, name: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::missing(name))
}

/// Parses an experiment id (MLflow sends it as a decimal string).
pub fn experiment_id(text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("experiment `{text}` does not exist")))
}

/// Checks a metric, param or tag key as MLflow does: at most 250 characters of letters,
/// digits, `_ - . : /` and space; not absolute and without `..` components.
pub fn check_key(what: &str, key: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::InvalidParameter(format!(
            "invalid {what} name '{}': {why}",
            key.escape_debug()
        )))
    };
    if key.is_empty() {
        return bad("it must not be empty");
    }
    if key.chars().count() > 250 {
        return bad("it is longer than 250 characters");
    }
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':'))
    {
        return bad("names may only contain letters, digits, '_', '-', '.', ' ', ':' and '/'");
    }
    if key.starts_with('/') || key.split('/').any(|part| part == "..") {
        return bad("names must be relative paths without '..'");
    }
    Ok(())
}

/// Checks a value's length against MLflow's limit for that kind of value.
pub fn check_value(what: &str, key: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    if value.chars().count() > max_chars {
        return Err(ApiError::InvalidParameter(format!(
            "{what} '{key}' has a value of {} characters; the limit is {max_chars}",
            value.chars().count()
        )));
    }
    Ok(())
}

/// Deserializes an optional int64 sent as a JSON number or a decimal string.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer (or a string holding one)")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} does not fit in int64")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.fract() == 0.0 && v.abs() < 9.2e18 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("expected an integer, got {v}")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| E::custom(format!("expected an integer, got \"{v}\"")))
        }
    }
    d.deserialize_any(V)
}

/// Deserializes an optional double sent as a JSON number, a numeric string, or protobuf JSON's
/// `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number, or \"NaN\", \"Infinity\" or \"-Infinity\"")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v {
                "NaN" | "nan" => Ok(Some(f64::NAN)),
                "Infinity" | "inf" => Ok(Some(f64::INFINITY)),
                "-Infinity" | "-inf" => Ok(Some(f64::NEG_INFINITY)),
                other => other
                    .trim()
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| E::custom(format!("expected a number, got \"{other}\""))),
            }
        }
    }
    d.deserialize_any(V)
}

/// Serializes a double as protobuf JSON does: non-finite values as strings.
pub fn float<S: serde::Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        s.serialize_str("NaN")
    } else if *value == f64::INFINITY {
        s.serialize_str("Infinity")
    } else if *value == f64::NEG_INFINITY {
        s.serialize_str("-Infinity")
    } else {
        s.serialize_f64(*value)
    }
}

/// Accepts a list of strings or numbers as strings (experiment ids come either way).
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let values: Option<Vec<serde_json::Value>> = serde::Deserialize::deserialize(d)?;
    values
        .unwrap_or_default()
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(de::Error::custom(format!("expected a string, got {other}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_i64")]
        i: Option<i64>,
        #[serde(default, deserialize_with = "opt_f64")]
        f: Option<f64>,
    }

    #[test]
    fn protobuf_json_leniencies() {
        let p: Probe = serde_json::from_str(r#"{"i": "17", "f": "NaN"}"#).unwrap();
        assert_eq!(p.i, Some(17));
        assert!(p.f.unwrap().is_nan());
        let p: Probe = serde_json::from_str(r#"{"i": 3.0, "f": "-Infinity"}"#).unwrap();
        assert_eq!((p.i, p.f), (Some(3), Some(f64::NEG_INFINITY)));
        let p: Probe = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!((p.i, p.f), (None, None));
        assert!(serde_json::from_str::<Probe>(r#"{"i": "x"}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"i": 1.5}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"f": true}"#).is_err());
    }

    #[test]
    fn malformed_and_mistyped_bodies_are_told_apart() {
        let e = parse_json::<Probe>(b"{not json").err().unwrap();
        assert_eq!(e.status_and_code().1, "MALFORMED_REQUEST");
        let e = parse_json::<Probe>(br#"{"i": [1]}"#).err().unwrap();
        assert_eq!(e.status_and_code().1, "INVALID_PARAMETER_VALUE");
    }

    #[test]
    fn key_rules() {
        for ok in ["loss", "val/acc", "a b:c-d_e.f", "ünïcode"] {
            assert!(check_key("metric", ok).is_ok(), "{ok}");
        }
        for bad in ["", "/abs", "a/../b", "..", "semi;colon", "new\nline"] {
            assert!(check_key("metric", bad).is_err(), "{bad:?}");
        }
        assert!(check_key("metric", &"x".repeat(251)).is_err());
    }
}
