//! The search language of the tracker, as MLflow's clients write it: filter strings
//! (`metrics.auc > 0.5 and params.lr = '0.01'`), `order_by` clauses (`metrics.auc DESC`) and
//! opaque page tokens.
//!
//! Parsing is pure and backend-neutral: the metadata store translates a [`Filter`] to SQL, and
//! small collections (experiments, logged models) are filtered in memory with
//! [`Filter::matches`]. Each kind of search checks what it accepts with [`Filter::check`]
//! against a [`Vocabulary`], so an unknown attribute or a string compared with `>` is refused
//! with a message naming the clause.

use std::borrow::Cow;
use std::fmt;

/// What a filter or order key refers to: the part before the first `.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    /// `metrics.KEY` (the latest value of a metric).
    Metric,
    /// `params.KEY`.
    Param,
    /// `tags.KEY`.
    Tag,
    /// `attributes.KEY`, or a bare key without a prefix.
    Attribute,
    /// `datasets.KEY` (`name`, `digest`, `context`).
    Dataset,
}

impl Entity {
    fn from_prefix(prefix: &str) -> Option<Entity> {
        Some(match prefix.to_ascii_lowercase().as_str() {
            "metric" | "metrics" => Entity::Metric,
            "param" | "params" | "parameter" | "parameters" => Entity::Param,
            "tag" | "tags" => Entity::Tag,
            "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
            "dataset" | "datasets" => Entity::Dataset,
            _ => return None,
        })
    }

    /// The canonical prefix (`metrics`, `params`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Metric => "metrics",
            Entity::Param => "params",
            Entity::Tag => "tags",
            Entity::Attribute => "attributes",
            Entity::Dataset => "datasets",
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `LIKE` (case-sensitive; `%` any run, `_` one character)
    Like,
    /// `ILIKE` (case-insensitive LIKE)
    ILike,
    /// `IN (…)`
    In,
    /// `NOT IN (…)`
    NotIn,
}

impl Comparator {
    /// Whether the comparator orders numbers (`=`, `!=`, `<`, `>`, `<=`, `>=`).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Comparator::Eq
                | Comparator::Ne
                | Comparator::Lt
                | Comparator::Gt
                | Comparator::Le
                | Comparator::Ge
        )
    }

    /// Whether the comparator applies to strings (`=`, `!=`, `LIKE`, `ILIKE`, `IN`, `NOT IN`).
    pub fn is_string(self) -> bool {
        matches!(
            self,
            Comparator::Eq
                | Comparator::Ne
                | Comparator::Like
                | Comparator::ILike
                | Comparator::In
                | Comparator::NotIn
        )
    }

    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "!=",
            Comparator::Lt => "<",
            Comparator::Gt => ">",
            Comparator::Le => "<=",
            Comparator::Ge => ">=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A quoted string.
    Str(String),
    /// A number.
    Num(f64),
    /// A parenthesised list of quoted strings (for `IN`).
    List(Vec<String>),
}

/// One comparison: `entity.key op value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    /// What the key refers to.
    pub entity: Entity,
    /// The key (unquoted).
    pub key: String,
    /// The operator.
    pub op: Comparator,
    /// The value compared with.
    pub value: Literal,
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.`{}` {} ",
            self.entity.as_str(),
            self.key,
            self.op.as_str()
        )?;
        match &self.value {
            Literal::Str(s) => write!(f, "'{s}'"),
            Literal::Num(n) => write!(f, "{n}"),
            Literal::List(items) => {
                let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
                write!(f, "({})", quoted.join(", "))
            }
        }
    }
}

/// A parsed filter: clauses joined by `AND` (MLflow's language has no `OR`). Empty matches all.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Filter {
    /// The clauses, all of which must hold.
    pub clauses: Vec<Clause>,
}

/// A parsed `order_by` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderBy {
    /// What the key refers to (metrics, params, tags or attributes).
    pub entity: Entity,
    /// The key.
    pub key: String,
    /// `ASC` (the default) or `DESC`.
    pub ascending: bool,
}

/// Why a filter, order clause or page token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The text does not parse.
    #[error("invalid filter `{text}`: {reason}")]
    Syntax {
        /// The whole filter string.
        text: String,
        /// What is wrong, and where.
        reason: String,
    },
    /// The filter parses but a clause is not allowed for this kind of search.
    #[error("invalid clause `{clause}`: {reason}")]
    Clause {
        /// The clause, re-printed.
        clause: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// An `order_by` item is not valid.
    #[error("invalid order_by `{text}`: {reason}")]
    OrderBy {
        /// The order_by item.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A page token was not produced by this server.
    #[error(
        "invalid page token `{0}`; pass back the next_page_token of a previous response unchanged"
    )]
    PageToken(String),
}

/// The type of an attribute, which decides the comparators it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    /// Compared as text.
    Text,
    /// Compared as a number (timestamps).
    Number,
    /// An identifier: only `=`, `!=`, `IN`, `NOT IN`.
    Id,
}

/// What one kind of search accepts.
#[derive(Clone, Copy, Debug)]
pub struct Vocabulary {
    /// Which entities may appear.
    pub entities: &'static [Entity],
    /// Attribute names and types (canonical names).
    pub attributes: &'static [(&'static str, AttrType)],
    /// Alternative attribute names mapped to canonical ones (e.g. `created` → `start_time`).
    pub aliases: &'static [(&'static str, &'static str)],
}

/// What run search accepts (MLflow's `runs/search`).
pub const RUNS: Vocabulary = Vocabulary {
    entities: &[
        Entity::Metric,
        Entity::Param,
        Entity::Tag,
        Entity::Attribute,
        Entity::Dataset,
    ],
    attributes: &[
        ("run_id", AttrType::Id),
        ("run_name", AttrType::Text),
        ("status", AttrType::Text),
        ("user_id", AttrType::Text),
        ("artifact_uri", AttrType::Text),
        ("lifecycle_stage", AttrType::Text),
        ("start_time", AttrType::Number),
        ("end_time", AttrType::Number),
        ("origin", AttrType::Text),
    ],
    aliases: &[("created", "start_time"), ("run_uuid", "run_id")],
};

/// What experiment search accepts.
pub const EXPERIMENTS: Vocabulary = Vocabulary {
    entities: &[Entity::Tag, Entity::Attribute],
    attributes: &[
        ("name", AttrType::Text),
        ("experiment_id", AttrType::Id),
        ("creation_time", AttrType::Number),
        ("last_update_time", AttrType::Number),
        ("lifecycle_stage", AttrType::Text),
    ],
    aliases: &[],
};

/// What logged-model search accepts.
pub const LOGGED_MODELS: Vocabulary = Vocabulary {
    entities: &[Entity::Tag, Entity::Attribute, Entity::Param],
    attributes: &[
        ("name", AttrType::Text),
        ("model_id", AttrType::Id),
        ("status", AttrType::Text),
        ("source_run_id", AttrType::Id),
        ("model_type", AttrType::Text),
        ("experiment_id", AttrType::Id),
        ("creation_timestamp", AttrType::Number),
        ("last_updated_timestamp", AttrType::Number),
    ],
    aliases: &[
        ("creation_time", "creation_timestamp"),
        ("last_updated_time", "last_updated_timestamp"),
    ],
};

/// What registered-model search accepts.
pub const REGISTERED_MODELS: Vocabulary = Vocabulary {
    entities: &[Entity::Tag, Entity::Attribute],
    attributes: &[
        ("name", AttrType::Text),
        ("creation_timestamp", AttrType::Number),
        ("last_updated_timestamp", AttrType::Number),
    ],
    aliases: &[
        ("creation_time", "creation_timestamp"),
        ("last_updated_time", "last_updated_timestamp"),
    ],
};

/// What model-version search accepts.
pub const MODEL_VERSIONS: Vocabulary = Vocabulary {
    entities: &[Entity::Tag, Entity::Attribute],
    attributes: &[
        ("name", AttrType::Text),
        ("version", AttrType::Number),
        ("run_id", AttrType::Id),
        ("source", AttrType::Text),
        ("current_stage", AttrType::Text),
        ("creation_timestamp", AttrType::Number),
        ("last_updated_timestamp", AttrType::Number),
    ],
    aliases: &[
        ("version_number", "version"),
        ("creation_time", "creation_timestamp"),
        ("last_updated_time", "last_updated_timestamp"),
    ],
};

impl Vocabulary {
    /// The canonical name and type of an attribute, if known.
    pub fn attribute(&self, key: &str) -> Option<(&'static str, AttrType)> {
        let key = self
            .aliases
            .iter()
            .find(|(alias, _)| *alias == key)
            .map(|(_, canonical)| *canonical)
            .unwrap_or(key);
        self.attributes
            .iter()
            .find(|(name, _)| *name == key)
            .copied()
    }

    fn attribute_names(&self) -> String {
        let names: Vec<&str> = self.attributes.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }
}

impl Filter {
    /// Parses a filter string. Empty or blank text is the filter that matches everything.
    pub fn parse(text: &str) -> Result<Filter, SearchError> {
        let syntax = |reason: String| SearchError::Syntax {
            text: text.to_string(),
            reason,
        };
        let tokens = tokenize(text).map_err(syntax)?;
        let mut parser = Parser { tokens, pos: 0 };
        let mut clauses = Vec::new();
        if parser.tokens.is_empty() {
            return Ok(Filter { clauses });
        }
        loop {
            clauses.push(parser.clause().map_err(syntax)?);
            match parser.next() {
                None => break,
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => continue,
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("or") => {
                    return Err(syntax(
                        "`OR` is not supported; combine conditions with `AND` only".into(),
                    ));
                }
                Some(other) => {
                    return Err(syntax(format!(
                        "expected `AND` or the end of the filter, found {}",
                        other.describe()
                    )));
                }
            }
        }
        Ok(Filter { clauses })
    }

    /// Checks every clause against what a search accepts, and rewrites attribute aliases to
    /// their canonical names.
    pub fn check(mut self, vocabulary: &Vocabulary) -> Result<Filter, SearchError> {
        for clause in &mut self.clauses {
            check_clause(clause, vocabulary)?;
        }
        Ok(self)
    }

    /// Whether a record satisfies every clause (for searches done in memory).
    pub fn matches(&self, record: &dyn Record) -> bool {
        self.clauses.iter().all(|c| clause_matches(c, record))
    }
}

fn check_clause(clause: &mut Clause, vocabulary: &Vocabulary) -> Result<(), SearchError> {
    let refuse = |clause: &Clause, reason: String| SearchError::Clause {
        clause: clause.to_string(),
        reason,
    };
    if !vocabulary.entities.contains(&clause.entity) {
        let allowed: Vec<&str> = vocabulary.entities.iter().map(|e| e.as_str()).collect();
        return Err(refuse(
            clause,
            format!(
                "`{}` cannot be searched here; use one of {}",
                clause.entity.as_str(),
                allowed.join(", ")
            ),
        ));
    }
    let kind = match clause.entity {
        Entity::Metric => AttrType::Number,
        Entity::Param | Entity::Tag => AttrType::Text,
        Entity::Dataset => {
            if !matches!(clause.key.as_str(), "name" | "digest" | "context") {
                return Err(refuse(
                    clause,
                    "datasets can be searched by name, digest or context".into(),
                ));
            }
            AttrType::Text
        }
        Entity::Attribute => match vocabulary.attribute(&clause.key) {
            Some((canonical, kind)) => {
                clause.key = canonical.to_string();
                kind
            }
            None => {
                return Err(refuse(
                    clause,
                    format!(
                        "unknown attribute `{}`; expected one of {}",
                        clause.key,
                        vocabulary.attribute_names()
                    ),
                ));
            }
        },
    };
    match kind {
        AttrType::Number => {
            if !clause.op.is_numeric() {
                return Err(refuse(
                    clause,
                    "numbers are compared with =, !=, <, >, <= or >=".into(),
                ));
            }
            if !matches!(clause.value, Literal::Num(_)) {
                return Err(refuse(clause, "expected a number on the right".into()));
            }
        }
        AttrType::Text | AttrType::Id => {
            let ok_op = match kind {
                AttrType::Id => matches!(
                    clause.op,
                    Comparator::Eq | Comparator::Ne | Comparator::In | Comparator::NotIn
                ),
                _ => clause.op.is_string(),
            };
            if !ok_op {
                let accepted = if kind == AttrType::Id {
                    "=, !=, IN or NOT IN"
                } else {
                    "=, !=, LIKE, ILIKE, IN or NOT IN"
                };
                return Err(refuse(clause, format!("text is compared with {accepted}")));
            }
            let list_op = matches!(clause.op, Comparator::In | Comparator::NotIn);
            match (&clause.value, list_op) {
                (Literal::List(_), true) | (Literal::Str(_), false) => {}
                (_, true) => {
                    return Err(refuse(
                        clause,
                        "IN expects a parenthesised list of quoted strings".into(),
                    ));
                }
                (_, false) => {
                    return Err(refuse(
                        clause,
                        "expected a quoted string on the right".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A value a record exposes to in-memory filtering.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(Cow<'a, str>),
    /// A number.
    Num(f64),
}

/// A record that can be filtered in memory.
pub trait Record {
    /// The value of `entity.key`, or `None` when absent (an absent value matches no clause).
    fn field(&self, entity: Entity, key: &str) -> Option<FieldValue<'_>>;
}

fn clause_matches(clause: &Clause, record: &dyn Record) -> bool {
    let Some(field) = record.field(clause.entity, &clause.key) else {
        return false;
    };
    match (&field, &clause.value) {
        (FieldValue::Num(x), Literal::Num(y)) => compare_ord(clause.op, x.partial_cmp(y)),
        (FieldValue::Str(x), Literal::Str(y)) => match clause.op {
            Comparator::Like => like(y, x, false),
            Comparator::ILike => like(y, x, true),
            op => compare_ord(op, Some(x.as_ref().cmp(y.as_str()))),
        },
        (FieldValue::Str(x), Literal::List(items)) => {
            let found = items.iter().any(|i| i == x.as_ref());
            match clause.op {
                Comparator::In => found,
                Comparator::NotIn => !found,
                _ => false,
            }
        }
        // A number stored as text (e.g. an id) compared with a number literal, or vice versa.
        (FieldValue::Str(x), Literal::Num(y)) => x
            .parse::<f64>()
            .is_ok_and(|x| compare_ord(clause.op, x.partial_cmp(y))),
        (FieldValue::Num(_), _) => false,
    }
}

fn compare_ord(op: Comparator, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    let Some(o) = ordering else { return false };
    match op {
        Comparator::Eq => o == Equal,
        Comparator::Ne => o != Equal,
        Comparator::Lt => o == Less,
        Comparator::Gt => o == Greater,
        Comparator::Le => o != Greater,
        Comparator::Ge => o != Less,
        _ => false,
    }
}

/// SQL `LIKE` matching: `%` matches any run of characters, `_` exactly one.
pub fn like(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative wildcard matching with backtracking to the last `%`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

impl OrderBy {
    /// Parses one `order_by` item: `KEY [ASC|DESC]`, with the same key syntax as filters.
    pub fn parse(text: &str, vocabulary: &Vocabulary) -> Result<OrderBy, SearchError> {
        let refuse = |reason: String| SearchError::OrderBy {
            text: text.to_string(),
            reason,
        };
        let tokens = tokenize(text).map_err(refuse)?;
        let mut parser = Parser { tokens, pos: 0 };
        let (entity, mut key) = match parser.next() {
            Some(Token::Ident { entity, key }) => (entity, key),
            Some(Token::Word(w)) => (Entity::Attribute, w),
            Some(other) => {
                return Err(refuse(format!(
                    "expected a key, found {}",
                    other.describe()
                )));
            }
            None => return Err(refuse("empty order_by clause".into())),
        };
        let ascending = match parser.next() {
            None => true,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("asc") => true,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("desc") => false,
            Some(other) => {
                return Err(refuse(format!(
                    "expected ASC or DESC after the key, found {}",
                    other.describe()
                )));
            }
        };
        if let Some(extra) = parser.next() {
            return Err(refuse(format!(
                "unexpected {} at the end",
                extra.describe()
            )));
        }
        if !vocabulary.entities.contains(&entity) || entity == Entity::Dataset {
            return Err(refuse(format!("cannot order by `{}`", entity.as_str())));
        }
        if entity == Entity::Attribute {
            match vocabulary.attribute(&key) {
                Some((canonical, _)) => key = canonical.to_string(),
                None => {
                    return Err(refuse(format!(
                        "unknown attribute `{key}`; expected one of {}",
                        vocabulary.attribute_names()
                    )));
                }
            }
        }
        Ok(OrderBy {
            entity,
            key,
            ascending,
        })
    }
}

/// A position in a search's results, handed to clients as an opaque token. The encoding is
/// base64 of `{"offset": N}`, the same shape MLflow's server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageToken {
    /// How many results precede the page.
    pub offset: u64,
}

impl PageToken {
    /// The token's text.
    pub fn encode(self) -> String {
        base64_encode(format!("{{\"offset\": {}}}", self.offset).as_bytes())
    }

    /// Reads a token; an empty string is the first page.
    pub fn decode(text: &str) -> Result<PageToken, SearchError> {
        if text.is_empty() {
            return Ok(PageToken { offset: 0 });
        }
        let bad = || SearchError::PageToken(text.chars().take(64).collect());
        let bytes = base64_decode(text).ok_or_else(bad)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let offset = value
            .get("offset")
            .and_then(|v| v.as_u64())
            .ok_or_else(bad)?;
        Ok(PageToken { offset })
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = BASE64.iter().position(|&b| b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

// --- tokenizer and parser ---

#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// `prefix.key` (with the key possibly quoted) or a backtick-quoted bare key.
    Ident {
        entity: Entity,
        key: String,
    },
    /// A bare word: a keyword (`AND`, `IN`, `LIKE`, ...) or an unprefixed attribute name.
    Word(String),
    /// A single- or double-quoted string.
    Str(String),
    /// A number.
    Num(f64),
    /// An operator.
    Op(Comparator),
    LParen,
    RParen,
    Comma,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Ident { entity, key } => format!("`{}.{key}`", entity.as_str()),
            Token::Word(w) => format!("`{w}`"),
            Token::Str(s) => format!("'{s}'"),
            Token::Num(n) => format!("{n}"),
            Token::Op(op) => format!("`{}`", op.as_str()),
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::Comma => "`,`".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::LParen);
                i += 1;
            }
            ')' => {
                tokens.push(Token::RParen);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '=' => {
                tokens.push(Token::Op(Comparator::Eq));
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op(Comparator::Ne));
                i += 2;
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                let ne = c == '<' && chars.get(i + 1) == Some(&'>');
                tokens.push(Token::Op(match (c, eq, ne) {
                    (_, _, true) => Comparator::Ne,
                    ('<', true, _) => Comparator::Le,
                    ('<', false, _) => Comparator::Lt,
                    ('>', true, _) => Comparator::Ge,
                    _ => Comparator::Gt,
                }));
                i += if eq || ne { 2 } else { 1 };
            }
            '\'' | '"' => {
                let (s, next) = quoted(&chars, i)?;
                tokens.push(Token::Str(s));
                i = next;
            }
            '`' => {
                let (key, next) = quoted(&chars, i)?;
                tokens.push(Token::Ident {
                    entity: Entity::Attribute,
                    key,
                });
                i = next;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == '.')) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let n = word
                    .parse::<f64>()
                    .map_err(|_| format!("`{word}` is not a number"))?;
                tokens.push(Token::Num(n));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(match word.split_once('.') {
                    None => Token::Word(word),
                    Some((prefix, rest)) => {
                        let entity = Entity::from_prefix(prefix).ok_or_else(|| {
                            format!(
                                "unknown prefix `{prefix}` in `{word}`; expected metrics., params., tags., attributes. or datasets."
                            )
                        })?;
                        if rest.is_empty() {
                            // `metrics.` followed by a quoted key: metrics.`my key` or metrics."k".
                            match chars.get(i) {
                                Some('`') | Some('"') => {
                                    let (key, next) = quoted(&chars, i)?;
                                    i = next;
                                    Token::Ident { entity, key }
                                }
                                _ => return Err(format!("`{word}` has no key after the prefix")),
                            }
                        } else {
                            Token::Ident {
                                entity,
                                key: rest.to_string(),
                            }
                        }
                    }
                });
            }
            other => return Err(format!("unexpected character `{other}` at position {i}")),
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '/')
}

/// Reads a quoted run starting at `chars[start]` (the quote); a doubled quote is an escaped one.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                out.push(quote);
                i += 2;
                continue;
            }
            return Ok((out, i + 1));
        }
        out.push(chars[i]);
        i += 1;
    }
    Err(format!(
        "unterminated {quote}quoted{quote} text starting at position {start}"
    ))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let (entity, key) = match self.next() {
            Some(Token::Ident { entity, key }) => (entity, key),
            Some(Token::Word(w)) => (Entity::Attribute, w),
            Some(other) => return Err(format!("expected a key, found {}", other.describe())),
            None => return Err("expected a key, found the end of the filter".into()),
        };
        let op = match self.next() {
            Some(Token::Op(op)) => op,
            Some(Token::Word(w)) => match w.to_ascii_uppercase().as_str() {
                "LIKE" => Comparator::Like,
                "ILIKE" => Comparator::ILike,
                "IN" => Comparator::In,
                "NOT" if self.peek_word("in") => {
                    self.pos += 1;
                    Comparator::NotIn
                }
                _ => return Err(format!("expected a comparison after `{key}`, found `{w}`")),
            },
            Some(other) => {
                return Err(format!(
                    "expected a comparison after `{key}`, found {}",
                    other.describe()
                ));
            }
            None => return Err(format!("expected a comparison after `{key}`")),
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Literal::Str(s),
            Some(Token::Num(n)) => Literal::Num(n),
            Some(Token::LParen) => Literal::List(self.list()?),
            Some(other) => {
                return Err(format!(
                    "expected a value after `{key} {}`, found {}",
                    op.as_str(),
                    other.describe()
                ));
            }
            None => {
                return Err(format!("expected a value after `{key} {}`", op.as_str()));
            }
        };
        Ok(Clause {
            entity,
            key,
            op,
            value,
        })
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let mut items = Vec::new();
        loop {
            match self.next() {
                Some(Token::Str(s)) => items.push(s),
                Some(Token::RParen) if items.is_empty() => {
                    return Err("an IN list must not be empty".into());
                }
                Some(other) => {
                    return Err(format!(
                        "expected a quoted string in the list, found {}",
                        other.describe()
                    ));
                }
                None => return Err("unterminated list: missing `)`".into()),
            }
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => return Ok(items),
                _ => return Err("expected `,` or `)` in the list".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_runs(text: &str) -> Result<Filter, SearchError> {
        Filter::parse(text)?.check(&RUNS)
    }

    #[test]
    fn parses_the_clients_typical_filter() {
        let f = parse_runs("metrics.auc > 0.5 and params.lr = '0.01'").unwrap();
        assert_eq!(
            f.clauses,
            vec![
                Clause {
                    entity: Entity::Metric,
                    key: "auc".into(),
                    op: Comparator::Gt,
                    value: Literal::Num(0.5)
                },
                Clause {
                    entity: Entity::Param,
                    key: "lr".into(),
                    op: Comparator::Eq,
                    value: Literal::Str("0.01".into())
                },
            ]
        );
    }

    #[test]
    fn quoted_keys_lists_and_keywords() {
        let f = Filter::parse(
            "tags.`mlflow.prompt.is_prompt` != 'true' AND metrics.\"my loss\" <= -1e-3 \
             AND attributes.status IN ('FINISHED', \"FAILED\") and run_name NOT IN ('x') \
             and tags.k ILIKE '%A_' and `weird key` LIKE 'it''s'",
        )
        .unwrap();
        let keys: Vec<(&Entity, &str, Comparator)> = f
            .clauses
            .iter()
            .map(|c| (&c.entity, c.key.as_str(), c.op))
            .collect();
        assert_eq!(
            keys,
            vec![
                (&Entity::Tag, "mlflow.prompt.is_prompt", Comparator::Ne),
                (&Entity::Metric, "my loss", Comparator::Le),
                (&Entity::Attribute, "status", Comparator::In),
                (&Entity::Attribute, "run_name", Comparator::NotIn),
                (&Entity::Tag, "k", Comparator::ILike),
                (&Entity::Attribute, "weird key", Comparator::Like),
            ]
        );
        assert_eq!(f.clauses[1].value, Literal::Num(-0.001));
        assert_eq!(
            f.clauses[2].value,
            Literal::List(vec!["FINISHED".into(), "FAILED".into()])
        );
        assert_eq!(f.clauses[5].value, Literal::Str("it's".into()));
        assert!(Filter::parse("").unwrap().clauses.is_empty());
        assert!(Filter::parse("   ").unwrap().clauses.is_empty());
    }

    #[test]
    fn syntax_errors_say_what_is_wrong() {
        for (bad, needle) in [
            ("metrics.auc > 0.5 or params.a = 'b'", "OR"),
            ("metrics.auc >", "expected a value"),
            ("metrics.auc 0.5", "expected a comparison"),
            ("params.a = 'open", "unterminated"),
            ("foo.bar = 'x'", "unknown prefix `foo`"),
            ("params.a IN ()", "must not be empty"),
            ("params.a = 'x' params.b = 'y'", "expected `AND`"),
            ("params.a ~ 'x'", "unexpected character"),
        ] {
            let err = Filter::parse(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn vocabulary_refuses_wrong_types_and_unknown_attributes() {
        for (bad, needle) in [
            ("metrics.auc = 'high'", "expected a number"),
            ("metrics.auc LIKE '%'", "numbers are compared"),
            ("params.lr > '0.1'", "text is compared"),
            ("params.lr = 0.1", "quoted string"),
            ("attributes.colour = 'red'", "unknown attribute `colour`"),
            ("attributes.run_id LIKE 'a%'", "=, !=, IN or NOT IN"),
            ("params.a IN 'x'", "parenthesised list"),
            ("datasets.size = 'x'", "name, digest or context"),
        ] {
            let err = parse_runs(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
        let f = parse_runs("created > 5 and attributes.run_uuid = 'x'").unwrap();
        assert_eq!(f.clauses[0].key, "start_time");
        assert_eq!(f.clauses[1].key, "run_id");
        assert!(
            Filter::parse("metrics.x > 1")
                .unwrap()
                .check(&EXPERIMENTS)
                .is_err()
        );
    }

    struct Row(Vec<(Entity, &'static str, FieldValue<'static>)>);
    impl Record for Row {
        fn field(&self, entity: Entity, key: &str) -> Option<FieldValue<'_>> {
            self.0
                .iter()
                .find(|(e, k, _)| *e == entity && *k == key)
                .map(|(_, _, v)| v.clone())
        }
    }

    #[test]
    fn in_memory_matching() {
        let row = Row(vec![
            (
                Entity::Attribute,
                "name",
                FieldValue::Str("Fraud-Model".into()),
            ),
            (Entity::Tag, "team", FieldValue::Str("risk".into())),
            (Entity::Attribute, "creation_time", FieldValue::Num(100.0)),
        ]);
        let yes = |f: &str| Filter::parse(f).unwrap().matches(&row);
        assert!(yes("name = 'Fraud-Model'"));
        assert!(!yes("name LIKE 'fraud%'"), "LIKE is case-sensitive");
        assert!(yes("name ILIKE 'fraud%'"));
        assert!(yes("name LIKE 'F_aud-%'"));
        assert!(yes("tags.team IN ('ops', 'risk') and creation_time >= 100"));
        assert!(!yes("tags.team NOT IN ('risk')"));
        assert!(!yes("tags.owner = 'x'"), "absent values match nothing");
        assert!(!yes("creation_time > 100"));
    }

    #[test]
    fn like_patterns() {
        assert!(like("%", "", false));
        assert!(like("a%c", "abbbc", false));
        assert!(!like("a%c", "abbbd", false));
        assert!(like("%b%", "abc", false));
        assert!(like("a_c", "abc", false));
        assert!(!like("a_c", "ac", false));
        assert!(like("ABC", "abc", true));
        assert!(like("%%a", "ba", false));
    }

    #[test]
    fn order_by_items() {
        let o = OrderBy::parse("metrics.auc DESC", &RUNS).unwrap();
        assert_eq!(
            (o.entity, o.key.as_str(), o.ascending),
            (Entity::Metric, "auc", false)
        );
        let o = OrderBy::parse("attributes.start_time", &RUNS).unwrap();
        assert!(o.ascending);
        let o = OrderBy::parse("params.`learning rate` asc", &RUNS).unwrap();
        assert_eq!(o.key, "learning rate");
        let o = OrderBy::parse("created desc", &RUNS).unwrap();
        assert_eq!(o.key, "start_time");
        assert!(OrderBy::parse("metrics.auc sideways", &RUNS).is_err());
        assert!(OrderBy::parse("attributes.nope", &RUNS).is_err());
        assert!(OrderBy::parse("", &RUNS).is_err());
    }

    #[test]
    fn page_tokens_round_trip_and_match_mlflows_shape() {
        assert_eq!(PageToken { offset: 2 }.encode(), "eyJvZmZzZXQiOiAyfQ==");
        for offset in [0, 1, 99, 12_345_678] {
            let t = PageToken { offset };
            assert_eq!(PageToken::decode(&t.encode()).unwrap(), t);
        }
        assert_eq!(PageToken::decode("").unwrap().offset, 0);
        assert!(PageToken::decode("!!!").is_err());
        assert!(PageToken::decode("e30=").is_err(), "{{}} has no offset");
    }

    proptest::proptest! {
        #[test]
        fn base64_round_trips(bytes: Vec<u8>) {
            proptest::prop_assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn parser_never_panics(text in "\\PC{0,40}") {
            let _ = Filter::parse(&text);
            let _ = OrderBy::parse(&text, &RUNS);
        }
    }
}
