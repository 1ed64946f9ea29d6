//! Codec for the text format of npm `devalue` 5.x, the encoding of every Framer Server API frame.
//!
//! A devalue text is one JSON array whose element 0 is the root value. Objects and arrays hold
//! indexes into that array instead of values, equal primitives share one slot, and negative
//! indexes stand for values JSON cannot express (-1 undefined, -2 hole, -3 NaN, -4 Infinity,
//! -5 -Infinity, -6 -0). A root that is one of those specials is written as the bare number.
//!
//! Tagged arrays (`["Date", ...]`, Map, Set, `BigInt`...) are refused: a CMS sync needs none, and
//! the codec never writes them. Parsing is bounded (nesting depth, expansion of shared slots),
//! so hostile input yields a [`DevalueError`], never a panic or an unbounded allocation.

use std::collections::HashMap;
use std::fmt;

/// Deepest container nesting `parse` accepts; deeper input is refused as [`DevalueError::TooDeep`].
pub const MAX_DEPTH: usize = 128;

const UNDEFINED: i64 = -1;
const HOLE: i64 = -2;
const NAN: i64 = -3;
const POSITIVE_INFINITY: i64 = -4;
const NEGATIVE_INFINITY: i64 = -5;
const NEGATIVE_ZERO: i64 = -6;
const SPARSE: i64 = -7;

/// Largest JavaScript array length; sparse arrays claiming more are malformed.
const MAX_ARRAY_LEN: f64 = 4_294_967_295.0;

/// A JavaScript value as devalue carries it (without the tagged types).
///
/// Equality follows `Object.is` for numbers: `NaN` equals `NaN` and `-0` differs from `0`, so a
/// value compares equal to its own round trip.
#[derive(Debug, Clone)]
pub enum Value {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    /// Keys in insertion order, which is the order they are written in.
    Object(Vec<(String, Value)>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Undefined, Self::Undefined) | (Self::Null, Self::Null) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Number(a), Self::Number(b)) => same_number(*a, *b),
            (Self::String(a), Self::String(b)) => a == b,
            (Self::Array(a), Self::Array(b)) => a == b,
            (Self::Object(a), Self::Object(b)) => a == b,
            _ => false,
        }
    }
}

/// `Object.is` on numbers: for anything but NaN that is bit equality (it tells -0 from 0).
fn same_number(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a.to_bits() == b.to_bits()
}

impl Value {
    /// The value of `key` if this is an object. With duplicate keys the last one wins, as it
    /// would once the text reaches JavaScript.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Mutable access to the value of `key` if this is an object (the last one, as `get`).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Self::Object(entries) => entries
                .iter_mut()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` on an object: replaces the value in place if present, else appends it (the
    /// key order a JavaScript assignment gives). Returns false, changing nothing, on non-objects.
    pub fn set(&mut self, key: &str, value: Value) -> bool {
        let Self::Object(entries) = self else {
            return false;
        };
        match entries.iter_mut().rev().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => entries.push((key.to_owned(), value)),
        }
        true
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Self::Object(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Self::Undefined)
    }

    /// JavaScript truthiness, used where the official client writes `x ? a : b` or `x || y`.
    pub fn is_truthy(&self) -> bool {
        match self {
            Self::Undefined | Self::Null => false,
            Self::Bool(b) => *b,
            Self::Number(n) => *n != 0.0 && !n.is_nan(),
            Self::String(s) => !s.is_empty(),
            Self::Array(_) | Self::Object(_) => true,
        }
    }

    /// The value as `JSON.stringify` would see it: undefined object members are dropped,
    /// undefined array elements and non-finite numbers become null, -0 becomes 0. A top-level
    /// undefined becomes null. Integral numbers up to 2^53 become JSON integers.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Undefined | Self::Null => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Number(n) => number_to_json(*n),
            Self::String(s) => serde_json::Value::String(s.clone()),
            Self::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Self::Object(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .filter(|(_, v)| !v.is_undefined())
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Integral values become JSON integers so they compare equal to parsed JSON (`3`, not `3.0`).
fn number_to_json(n: f64) -> serde_json::Value {
    const MAX_SAFE: f64 = 9_007_199_254_740_992.0;
    if !n.is_finite() {
        return serde_json::Value::Null;
    }
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        // Exact: integral and within +-2^53, which i64 holds without loss.
        #[allow(clippy::cast_possible_truncation)]
        return serde_json::Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

impl From<serde_json::Value> for Value {
    /// Object keys keep the order `serde_json::Map` iterates them in (sorted unless the
    /// `preserve_order` feature of `serde_json` is on).
    fn from(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(b) => Self::Bool(b),
            serde_json::Value::Number(n) => Self::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Self::String(s),
            serde_json::Value::Array(items) => {
                Self::Array(items.into_iter().map(Self::from).collect())
            }
            serde_json::Value::Object(map) => {
                Self::Object(map.into_iter().map(|(k, v)| (k, Self::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Self::Array(items)
    }
}

/// Why a text is not an acceptable devalue text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevalueError {
    /// The text is not JSON; `offset` is the byte where reading stopped.
    Json { offset: usize, reason: &'static str },
    /// The root is neither a special index nor a non-empty array.
    InvalidRoot,
    /// A reference that is not an integer index (a string, a fraction, a hole outside an array).
    BadIndex(String),
    /// An index past the end of the slot array, or an unknown negative index.
    IndexOutOfRange(i64),
    /// A tagged value such as `["Date", ...]`, `["Map", ...]` or `["BigInt", ...]`.
    TaggedValue(String),
    /// A slot that contains itself; a tree cannot hold it.
    Cycle(usize),
    /// A `__proto__` key, which devalue refuses in both directions.
    ProtoKey,
    /// A malformed sparse array (`[-7, length, index, value, ...]`).
    BadSparseArray,
    /// Containers nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Shared slots would expand to far more data than the text holds.
    TooLarge,
}

impl fmt::Display for DevalueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json { offset, reason } => write!(f, "invalid JSON at byte {offset}: {reason}"),
            Self::InvalidRoot => {
                f.write_str("devalue root must be a special index or a non-empty array")
            }
            Self::BadIndex(found) => write!(f, "expected a devalue index, found {found}"),
            Self::IndexOutOfRange(i) => write!(f, "devalue index {i} is out of range"),
            Self::TaggedValue(tag) => write!(f, "unsupported devalue type {tag:?}"),
            Self::Cycle(slot) => write!(f, "devalue slot {slot} refers to itself"),
            Self::ProtoKey => f.write_str("devalue object has a __proto__ key"),
            Self::BadSparseArray => f.write_str("malformed devalue sparse array"),
            Self::TooDeep => write!(f, "devalue value nested deeper than {MAX_DEPTH}"),
            Self::TooLarge => f.write_str("devalue shared slots expand beyond the size limit"),
        }
    }
}

impl std::error::Error for DevalueError {}

/// Reads a devalue text. Holes become [`Value::Undefined`]; a lone surrogate escape becomes
/// U+FFFD (a Rust string cannot hold it); with duplicate keys the last value wins in the
/// position of the first, as with `JSON.parse`.
pub fn parse(text: &str) -> Result<Value, DevalueError> {
    let root = json::parse(text)?;
    match root {
        json::Json::Number(n) => standalone_special(n),
        json::Json::Array(slots) if !slots.is_empty() => {
            Hydrator::new(&slots, text.len()).slot(0, 0)
        }
        _ => Err(DevalueError::InvalidRoot),
    }
}

/// A bare-number devalue text: only the specials that stand for a whole value.
fn standalone_special(n: f64) -> Result<Value, DevalueError> {
    match integer_index(n) {
        Some(i) if i != HOLE => special_value(i).ok_or(DevalueError::InvalidRoot),
        _ => Err(DevalueError::InvalidRoot),
    }
}

fn special_value(index: i64) -> Option<Value> {
    let value = match index {
        UNDEFINED | HOLE => Value::Undefined,
        NAN => Value::Number(f64::NAN),
        POSITIVE_INFINITY => Value::Number(f64::INFINITY),
        NEGATIVE_INFINITY => Value::Number(f64::NEG_INFINITY),
        NEGATIVE_ZERO => Value::Number(-0.0),
        _ => return None,
    };
    Some(value)
}

/// `n` as an index if it is an integer a devalue text could hold.
fn integer_index(n: f64) -> Option<i64> {
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    // Checked integral and within +-2^53, so the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    (n.fract() == 0.0 && n.abs() <= LIMIT).then_some(n as i64)
}

/// Rebuilds the tree from the slot array. Shared slots are expanded again at every reference,
/// so `budget` (in nodes plus string bytes) caps what a small text can make us allocate.
struct Hydrator<'s, 'a> {
    slots: &'s [json::Json<'a>],
    in_progress: Vec<bool>,
    budget: usize,
}

impl<'s, 'a> Hydrator<'s, 'a> {
    fn new(slots: &'s [json::Json<'a>], text_len: usize) -> Self {
        Self {
            slots,
            in_progress: vec![false; slots.len()],
            // Ample for real frames (primitives shared a few times), small enough to stop
            // "billion laughs" texts whose shared slots double at every level.
            budget: text_len.saturating_mul(32).saturating_add(1 << 20),
        }
    }

    fn spend(&mut self, amount: usize) -> Result<(), DevalueError> {
        self.budget = self
            .budget
            .checked_sub(amount)
            .ok_or(DevalueError::TooLarge)?;
        Ok(())
    }

    /// Resolves one reference found inside an array (`allow_hole`) or object.
    fn reference(
        &mut self,
        raw: &json::Json<'a>,
        depth: usize,
        allow_hole: bool,
    ) -> Result<Value, DevalueError> {
        let json::Json::Number(n) = raw else {
            return Err(DevalueError::BadIndex(raw.describe()));
        };
        let index = integer_index(*n).ok_or_else(|| DevalueError::BadIndex(n.to_string()))?;
        if index == HOLE && !allow_hole {
            return Err(DevalueError::BadIndex("a hole outside an array".to_owned()));
        }
        if let Some(special) = special_value(index) {
            return Ok(special);
        }
        match usize::try_from(index) {
            Ok(slot) if slot < self.slots.len() => self.slot(slot, depth),
            _ => Err(DevalueError::IndexOutOfRange(index)),
        }
    }

    fn slot(&mut self, index: usize, depth: usize) -> Result<Value, DevalueError> {
        if self.in_progress[index] {
            return Err(DevalueError::Cycle(index));
        }
        self.spend(1)?;
        let slots = self.slots;
        match &slots[index] {
            json::Json::Null => Ok(Value::Null),
            json::Json::Bool(b) => Ok(Value::Bool(*b)),
            json::Json::Number(n) => Ok(Value::Number(*n)),
            json::Json::String(raw) => {
                self.spend(raw.len())?;
                Ok(Value::String(json::decode_body(raw)))
            }
            json::Json::Array(items) => match items.first() {
                Some(json::Json::String(tag)) => {
                    Err(DevalueError::TaggedValue(json::decode_body(tag)))
                }
                Some(json::Json::Number(n)) if integer_index(*n) == Some(SPARSE) => {
                    self.nested(index, depth, |h, inner| h.sparse(items, inner))
                }
                _ => self.nested(index, depth, |h, inner| h.array(items, inner)),
            },
            json::Json::Object(entries) => {
                self.nested(index, depth, |h, inner| h.object(entries, inner))
            }
        }
    }

    /// Builds the container in slot `index`, marking it in progress so a reference back to it
    /// is caught as a cycle rather than followed forever.
    fn nested(
        &mut self,
        index: usize,
        depth: usize,
        build: impl FnOnce(&mut Self, usize) -> Result<Value, DevalueError>,
    ) -> Result<Value, DevalueError> {
        if depth >= MAX_DEPTH {
            return Err(DevalueError::TooDeep);
        }
        self.in_progress[index] = true;
        let result = build(self, depth + 1);
        self.in_progress[index] = false;
        result
    }

    fn array(&mut self, items: &[json::Json<'a>], depth: usize) -> Result<Value, DevalueError> {
        let values = items
            .iter()
            .map(|item| self.reference(item, depth, true))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Value::Array(values))
    }

    /// `[-7, length, index, value, index, value, ...]`: only populated elements are listed.
    fn sparse(&mut self, items: &[json::Json<'a>], depth: usize) -> Result<Value, DevalueError> {
        let length = match items.get(1) {
            Some(json::Json::Number(n)) if *n >= 0.0 && *n <= MAX_ARRAY_LEN => integer_index(*n),
            _ => None,
        };
        let length = length
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(DevalueError::BadSparseArray)?;
        self.spend(length)?;
        let mut values = vec![Value::Undefined; length];
        for pair in items[2..].chunks(2) {
            let [json::Json::Number(at), raw] = pair else {
                return Err(DevalueError::BadSparseArray);
            };
            let at = integer_index(*at)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < length)
                .ok_or(DevalueError::BadSparseArray)?;
            values[at] = self.reference(raw, depth, false)?;
        }
        Ok(Value::Array(values))
    }

    fn object(
        &mut self,
        entries: &[(&'a str, json::Json<'a>)],
        depth: usize,
    ) -> Result<Value, DevalueError> {
        let mut object = Vec::with_capacity(entries.len());
        let mut positions: HashMap<String, usize> = HashMap::new();
        for (raw_key, raw) in entries {
            let key = json::decode_body(raw_key);
            if key == "__proto__" {
                return Err(DevalueError::ProtoKey);
            }
            let value = self.reference(raw, depth, false)?;
            if let Some(&at) = positions.get(&key) {
                object[at] = (key, value);
            } else {
                positions.insert(key.clone(), object.len());
                object.push((key, value));
            }
        }
        Ok(Value::Object(object))
    }
}

/// Writes a value as devalue's `stringify` does: slots numbered depth-first in the order they
/// are first met, each distinct primitive written once, specials as negative indexes.
/// Keys named `__proto__` are left out: devalue refuses to write or read them.
pub fn stringify(value: &Value) -> String {
    if let Some(special) = special_index(value) {
        return special.to_string();
    }
    let mut writer = Writer::default();
    writer.flatten(value);
    let mut out =
        String::with_capacity(writer.slots.iter().map(|s| s.len() + 1).sum::<usize>() + 2);
    out.push('[');
    out.push_str(&writer.slots.join(","));
    out.push(']');
    out
}

/// The negative index standing for `value`, if it is one of the specials.
fn special_index(value: &Value) -> Option<i64> {
    match value {
        Value::Undefined => Some(UNDEFINED),
        Value::Number(n) if n.is_nan() => Some(NAN),
        Value::Number(n) if *n == f64::INFINITY => Some(POSITIVE_INFINITY),
        Value::Number(n) if *n == f64::NEG_INFINITY => Some(NEGATIVE_INFINITY),
        Value::Number(n) if *n == 0.0 && n.is_sign_negative() => Some(NEGATIVE_ZERO),
        _ => None,
    }
}

/// Identity of a primitive for slot sharing (JavaScript `Map` keys: `1` and `"1"` differ).
#[derive(PartialEq, Eq, Hash)]
enum Primitive<'v> {
    Null,
    Bool(bool),
    Number(u64),
    String(&'v str),
}

impl<'v> Primitive<'v> {
    fn of(value: &'v Value) -> Option<Self> {
        match value {
            Value::Null => Some(Self::Null),
            Value::Bool(b) => Some(Self::Bool(*b)),
            // Specials (NaN, -0) never get here, so bits identify the number.
            Value::Number(n) => Some(Self::Number(n.to_bits())),
            Value::String(s) => Some(Self::String(s)),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Writer<'v> {
    slots: Vec<String>,
    shared: HashMap<Primitive<'v>, usize>,
}

impl<'v> Writer<'v> {
    /// Returns the reference to write for `value`, allocating its slot on first sight.
    fn flatten(&mut self, value: &'v Value) -> String {
        if let Some(special) = special_index(value) {
            return special.to_string();
        }
        let primitive = Primitive::of(value);
        if let Some(&index) = primitive.as_ref().and_then(|p| self.shared.get(p)) {
            return index.to_string();
        }
        // The index is taken before the children are visited: that is devalue's numbering.
        let index = self.slots.len();
        self.slots.push(String::new());
        if let Some(primitive) = primitive {
            self.shared.insert(primitive, index);
        }
        self.slots[index] = self.slot_text(value);
        index.to_string()
    }

    fn slot_text(&mut self, value: &'v Value) -> String {
        match value {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => js_number_to_string(*n),
            Value::String(s) => quote(s),
            Value::Array(items) => {
                let refs: Vec<String> = items.iter().map(|item| self.flatten(item)).collect();
                format!("[{}]", refs.join(","))
            }
            Value::Object(entries) => {
                let members: Vec<String> = entries
                    .iter()
                    .filter(|(key, _)| key != "__proto__")
                    .map(|(key, item)| format!("{}:{}", quote(key), self.flatten(item)))
                    .collect();
                format!("{{{}}}", members.join(","))
            }
            // `flatten` writes undefined as an index before getting here; devalue's
            // `stringify_primitive` has the same fallback.
            Value::Undefined => UNDEFINED.to_string(),
        }
    }
}

/// A JSON string literal escaped as devalue's `stringify_string` does: JSON's escapes plus
/// `<` as `\u003C` and U+2028/U+2029, so the text is safe inside HTML too.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if c < ' ' => push_control_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `\u00xx` with lowercase hex, as devalue writes control characters.
fn push_control_escape(out: &mut String, c: char) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let code = u32::from(c);
    out.push_str("\\u00");
    for shift in [4, 0] {
        out.push(char::from(HEX[((code >> shift) & 0xF) as usize]));
    }
}

/// `String(n)` for a number, per ECMAScript `Number::toString`: the shortest digits
/// that round-trip, in plain notation for exponents in [-7, 21), scientific beyond.
pub fn js_number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    if n < 0.0 {
        return format!("-{}", js_number_to_string(-n));
    }
    // `{:e}` gives the shortest round-trip digits as "d.ddde<exp>".
    let scientific = format!("{n:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("LowerExp always writes an exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
    layout_number(&digits, exponent + 1)
}

/// Places `digits` (d1 d2 ... dk) so that the value is 0.d1d2...dk * 10^point.
fn layout_number(digits: &str, point: i32) -> String {
    let k = i32::try_from(digits.len()).expect("an f64 has at most 17 significant digits");
    if k <= point && point <= 21 {
        let zeros = usize::try_from(point - k).expect("non-negative");
        return format!("{digits}{}", "0".repeat(zeros));
    }
    if 0 < point && point <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(point).expect("positive"));
        return format!("{int}.{frac}");
    }
    if -6 < point && point <= 0 {
        let zeros = usize::try_from(-point).expect("non-negative");
        return format!("0.{}{digits}", "0".repeat(zeros));
    }
    let exponent = point - 1;
    let sign = if exponent < 0 { '-' } else { '+' };
    let (first, rest) = digits.split_at(1);
    let fraction = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    format!("{first}{fraction}e{sign}{}", exponent.abs())
}

/// A small JSON reader that keeps object key order and leaves strings undecoded (raw escaped
/// bodies borrowed from the text), so callers can join string pieces before decoding them.
pub(crate) mod json {
    use super::DevalueError;

    /// Deepest JSON nesting read; devalue texts nest two levels, chunk envelopes one.
    const MAX_JSON_DEPTH: usize = 64;

    /// A JSON value. Strings are the raw text between the quotes, escapes still in place.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Json<'a> {
        Null,
        Bool(bool),
        Number(f64),
        String(&'a str),
        Array(Vec<Json<'a>>),
        Object(Vec<(&'a str, Json<'a>)>),
    }

    impl Json<'_> {
        /// A short description for error messages.
        pub(crate) fn describe(&self) -> String {
            match self {
                Self::Null => "null".to_owned(),
                Self::Bool(b) => b.to_string(),
                Self::Number(n) => n.to_string(),
                Self::String(_) => "a string".to_owned(),
                Self::Array(_) => "an array".to_owned(),
                Self::Object(_) => "an object".to_owned(),
            }
        }

        /// The member `key` of an object (raw keys compared as written).
        pub(crate) fn member(&self, key: &str) -> Option<&Self> {
            match self {
                Self::Object(entries) => entries
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v),
                _ => None,
            }
        }
    }

    /// Parses one JSON text (surrounding whitespace allowed, nothing else).
    pub(crate) fn parse(text: &str) -> Result<Json<'_>, DevalueError> {
        let mut reader = Reader { text, pos: 0 };
        reader.skip_whitespace();
        let value = reader.value(0)?;
        reader.skip_whitespace();
        if reader.pos != text.len() {
            return Err(reader.error("unexpected text after the value"));
        }
        Ok(value)
    }

    struct Reader<'a> {
        text: &'a str,
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn error(&self, reason: &'static str) -> DevalueError {
            DevalueError::Json {
                offset: self.pos,
                reason,
            }
        }

        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.pos).copied()
        }

        fn skip_whitespace(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.pos += 1;
            }
        }

        fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), DevalueError> {
            if self.peek() != Some(byte) {
                return Err(self.error(reason));
            }
            self.pos += 1;
            Ok(())
        }

        fn value(&mut self, depth: usize) -> Result<Json<'a>, DevalueError> {
            match self.peek() {
                Some(b'{') => self.object(depth + 1),
                Some(b'[') => self.array(depth + 1),
                Some(b'"') => Ok(Json::String(self.string()?)),
                Some(b't') => self.literal("true", Json::Bool(true)),
                Some(b'f') => self.literal("false", Json::Bool(false)),
                Some(b'n') => self.literal("null", Json::Null),
                Some(b'-' | b'0'..=b'9') => self.number(),
                Some(_) => Err(self.error("unexpected character")),
                None => Err(self.error("unexpected end of text")),
            }
        }

        fn literal(
            &mut self,
            word: &'static str,
            value: Json<'a>,
        ) -> Result<Json<'a>, DevalueError> {
            if !self.text[self.pos..].starts_with(word) {
                return Err(self.error("unknown literal"));
            }
            self.pos += word.len();
            Ok(value)
        }

        fn array(&mut self, depth: usize) -> Result<Json<'a>, DevalueError> {
            if depth > MAX_JSON_DEPTH {
                return Err(self.error("nested too deeply"));
            }
            self.pos += 1;
            let mut items = Vec::new();
            self.skip_whitespace();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Json::Array(items));
            }
            loop {
                self.skip_whitespace();
                items.push(self.value(depth)?);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        return Ok(Json::Array(items));
                    }
                    _ => return Err(self.error("expected ',' or ']'")),
                }
            }
        }

        fn object(&mut self, depth: usize) -> Result<Json<'a>, DevalueError> {
            if depth > MAX_JSON_DEPTH {
                return Err(self.error("nested too deeply"));
            }
            self.pos += 1;
            let mut entries = Vec::new();
            self.skip_whitespace();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Json::Object(entries));
            }
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a string key"));
                }
                let key = self.string()?;
                self.skip_whitespace();
                self.expect(b':', "expected ':'")?;
                self.skip_whitespace();
                entries.push((key, self.value(depth)?));
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(Json::Object(entries));
                    }
                    _ => return Err(self.error("expected ',' or '}'")),
                }
            }
        }

        /// Validates a string literal and returns its raw body.
        fn string(&mut self) -> Result<&'a str, DevalueError> {
            self.pos += 1;
            let start = self.pos;
            loop {
                match self.peek() {
                    None => return Err(self.error("unterminated string")),
                    Some(b'"') => break,
                    Some(b'\\') => self.escape()?,
                    Some(byte) if byte < 0x20 => {
                        return Err(self.error("control character in string"))
                    }
                    Some(_) => self.pos += 1,
                }
            }
            let body = &self.text[start..self.pos];
            self.pos += 1;
            Ok(body)
        }

        fn escape(&mut self) -> Result<(), DevalueError> {
            self.pos += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                Some(b'u') => {
                    let hex = self.text.as_bytes().get(self.pos + 1..self.pos + 5);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return Err(self.error("bad \\u escape"));
                    }
                    self.pos += 5;
                }
                _ => return Err(self.error("bad escape")),
            }
            Ok(())
        }

        fn number(&mut self) -> Result<Json<'a>, DevalueError> {
            let start = self.pos;
            if self.peek() == Some(b'-') {
                self.pos += 1;
            }
            match self.peek() {
                Some(b'0') => self.pos += 1,
                Some(b'1'..=b'9') => self.digits(),
                _ => return Err(self.error("expected a digit")),
            }
            if self.peek() == Some(b'.') {
                self.pos += 1;
                self.required_digits()?;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.pos += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                self.required_digits()?;
            }
            // The grammar checked above is a subset of what Rust's f64 parser accepts, and
            // Rust rounds correctly, as JSON.parse does.
            self.text[start..self.pos]
                .parse()
                .map(Json::Number)
                .map_err(|_| self.error("bad number"))
        }

        fn digits(&mut self) {
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }

        fn required_digits(&mut self) -> Result<(), DevalueError> {
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("expected a digit"));
            }
            self.digits();
            Ok(())
        }
    }

    /// Decodes the raw body of a string literal that `parse` validated. A surrogate pair
    /// written as two `\u` escapes becomes one character; a lone surrogate becomes U+FFFD.
    pub(crate) fn decode_body(raw: &str) -> String {
        if !raw.contains('\\') {
            return raw.to_owned();
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(at) = rest.find('\\') {
            out.push_str(&rest[..at]);
            rest = decode_escape(&rest[at + 1..], &mut out);
        }
        out.push_str(rest);
        out
    }

    /// Decodes the escape at the start of `rest` (just past its backslash) into `out`, and
    /// returns what follows it.
    fn decode_escape<'r>(rest: &'r str, out: &mut String) -> &'r str {
        let Some(letter) = rest.chars().next() else {
            return rest;
        };
        let simple = match letter {
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'u' => None,
            other => Some(other),
        };
        if let Some(c) = simple {
            out.push(c);
            return &rest[letter.len_utf8()..];
        }
        let Some(unit) = hex_unit(rest) else {
            return &rest[1..];
        };
        let after = &rest[5..];
        if (0xD800..0xDC00).contains(&unit) {
            if let Some(low) = after
                .strip_prefix("\\u")
                .and_then(|_| hex_unit(&after[1..]))
            {
                if (0xDC00..0xE000).contains(&low) {
                    let code =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    return &after[6..];
                }
            }
        }
        out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER));
        after
    }

    /// The code unit of `uXXXX` at the start of `rest`.
    fn hex_unit(rest: &str) -> Option<u16> {
        let hex = rest.get(1..5)?;
        u16::from_str_radix(hex, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const VECTORS: &str = include_str!("../../../vectors/devalue.json");
    const TRANSCRIPT: &str = include_str!("../../../vectors/framer-transcript.json");

    fn vector_cases() -> Vec<serde_json::Value> {
        let doc: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        doc["cases"].as_array().unwrap().clone()
    }

    fn transcript_frames() -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(TRANSCRIPT).unwrap();
        doc["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|frame| frame["raw"].as_str().unwrap().to_owned())
            .collect()
    }

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn every_vector_parses_to_its_json_equivalent() {
        let cases = vector_cases();
        assert_eq!(cases.len(), 23);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let value =
                parse(case["devalue"].as_str().unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
            match case["json_equivalent"].as_str() {
                Some(expected) => {
                    let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
                    assert_eq!(value.to_json(), expected, "{name}");
                }
                None => assert_eq!(value, Value::Undefined, "{name}"),
            }
        }
    }

    #[test]
    fn every_vector_is_written_back_identically() {
        for case in vector_cases() {
            let text = case["devalue"].as_str().unwrap();
            assert_eq!(stringify(&parse(text).unwrap()), text, "{}", case["name"]);
        }
    }

    #[test]
    fn every_transcript_frame_is_written_back_identically() {
        let frames = transcript_frames();
        assert_eq!(frames.len(), 23);
        for text in frames {
            assert_eq!(stringify(&parse(&text).unwrap()), text);
        }
    }

    #[test]
    fn special_numbers_parse_to_their_exact_values() {
        assert!(parse("-3").unwrap().as_f64().unwrap().is_nan());
        assert_eq!(parse("-4").unwrap().as_f64(), Some(f64::INFINITY));
        assert_eq!(parse("-5").unwrap().as_f64(), Some(f64::NEG_INFINITY));
        let negative_zero = parse("-6").unwrap().as_f64().unwrap();
        assert!(negative_zero == 0.0 && negative_zero.is_sign_negative());
        assert_eq!(parse("-1").unwrap(), Value::Undefined);
        let inner = parse("[[-1,-2,-3,-4,-5,-6]]").unwrap();
        let items = inner.as_array().unwrap();
        assert_eq!(items[0], Value::Undefined);
        assert_eq!(items[1], Value::Undefined);
        assert!(items[2].as_f64().unwrap().is_nan());
        assert_eq!(items[3], Value::Number(f64::INFINITY));
        assert_eq!(items[4], Value::Number(f64::NEG_INFINITY));
        assert_eq!(items[5], Value::Number(-0.0));
        assert_ne!(items[5], Value::Number(0.0));
        assert_eq!(inner.to_json(), json!([null, null, null, null, null, 0]));
    }

    #[test]
    fn shared_slots_are_expanded_at_every_reference() {
        let value = parse(r#"[[1,1,2],{"a":2},"x"]"#).unwrap();
        let x = obj(&[("a", Value::from("x"))]);
        assert_eq!(value, Value::Array(vec![x.clone(), x, Value::from("x")]));
    }

    #[test]
    fn sparse_arrays_and_holes_become_undefined_elements() {
        let sparse = parse(r#"[[-7,3,1,1],"a"]"#).unwrap();
        assert_eq!(
            sparse,
            Value::Array(vec![Value::Undefined, Value::from("a"), Value::Undefined])
        );
        let holes = parse(r#"[[-2,1],"a"]"#).unwrap();
        assert_eq!(holes.to_json(), json!([null, "a"]));
        assert_eq!(
            parse(r#"[[-7,2,5,1],"a"]"#),
            Err(DevalueError::BadSparseArray)
        );
        assert_eq!(
            parse("[[-7,99999999999]]"),
            Err(DevalueError::BadSparseArray)
        );
        assert_eq!(parse("[[-7,4294967295]]"), Err(DevalueError::TooLarge));
    }

    #[test]
    fn duplicate_keys_keep_the_first_position_and_the_last_value() {
        let value = parse(r#"[{"a":1,"b":2,"a":3},1,2,3]"#).unwrap();
        assert_eq!(
            value,
            obj(&[("a", Value::Number(3.0)), ("b", Value::Number(2.0))])
        );
    }

    #[test]
    fn escapes_decode_including_surrogate_pairs() {
        let value = parse(r#"["a\u003Cb\n\"\\\/ \ud83d\ude80 \u00e9"]"#).unwrap();
        assert_eq!(value.as_str(), Some("a<b\n\"\\/ 🚀 é"));
        let lone = parse(r#"["x\ud83d y \ude80"]"#).unwrap();
        assert_eq!(lone.as_str(), Some("x\u{fffd} y \u{fffd}"));
    }

    #[test]
    fn malformed_texts_are_refused_with_typed_errors() {
        let cases: &[(&str, DevalueError)] = &[
            (
                r#"[["Date","2024-01-01T00:00:00.000Z"]]"#,
                DevalueError::TaggedValue("Date".into()),
            ),
            (
                r#"[["BigInt","1"]]"#,
                DevalueError::TaggedValue("BigInt".into()),
            ),
            (r#"[{"a":5},1]"#, DevalueError::IndexOutOfRange(5)),
            (r"[[-9]]", DevalueError::IndexOutOfRange(-9)),
            (
                r#"[{"a":-2}]"#,
                DevalueError::BadIndex("a hole outside an array".into()),
            ),
            (r#"[{"a":1.5},1]"#, DevalueError::BadIndex("1.5".into())),
            (
                r#"[{"a":"1"},1]"#,
                DevalueError::BadIndex("a string".into()),
            ),
            (r#"[{"a":0}]"#, DevalueError::Cycle(0)),
            (r"[[1],[0]]", DevalueError::Cycle(0)),
            (r#"[{"__proto__":1},1]"#, DevalueError::ProtoKey),
            ("[]", DevalueError::InvalidRoot),
            ("5", DevalueError::InvalidRoot),
            ("-2", DevalueError::InvalidRoot),
            (r#"{"a":1}"#, DevalueError::InvalidRoot),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).as_ref(), Err(expected), "{text}");
        }
    }

    #[test]
    fn invalid_json_reports_where_it_stopped() {
        assert_eq!(
            parse(r#"["a"] x"#),
            Err(DevalueError::Json {
                offset: 6,
                reason: "unexpected text after the value"
            })
        );
        assert_eq!(
            parse(r#"["a"#),
            Err(DevalueError::Json {
                offset: 3,
                reason: "unterminated string"
            })
        );
        assert_eq!(
            parse("[01]"),
            Err(DevalueError::Json {
                offset: 2,
                reason: "expected ',' or ']'"
            })
        );
        assert_eq!(
            parse(r#"["\x"]"#),
            Err(DevalueError::Json {
                offset: 3,
                reason: "bad escape"
            })
        );
        assert_eq!(
            parse(r#"["\u12"]"#),
            Err(DevalueError::Json {
                offset: 3,
                reason: "bad \\u escape"
            })
        );
        assert!(matches!(
            parse(&"[".repeat(100)),
            Err(DevalueError::Json {
                reason: "nested too deeply",
                ..
            })
        ));
    }

    #[test]
    fn deep_chains_of_slots_are_refused() {
        // Slot i is an array holding slot i+1: nesting depth equals the slot count.
        let slots: Vec<String> = (1..=200).map(|i| format!("[{i}]")).collect();
        let text = format!("[{},0]", slots.join(","));
        assert_eq!(parse(&text), Err(DevalueError::TooDeep));
    }

    #[test]
    fn exponential_sharing_is_refused() {
        // Each slot references the next twice: 2^60 leaves from a few hundred bytes.
        let slots: Vec<String> = (1..=60).map(|i| format!("[{i},{i}]")).collect();
        let text = format!("[{},\"leaf\"]", slots.join(","));
        assert_eq!(parse(&text), Err(DevalueError::TooLarge));
    }

    #[test]
    fn strings_are_escaped_like_the_reference() {
        // Reference text from devalue 5.9.4's stringify of the same string.
        let value = Value::from(
            "q\" b\\ <tag> nl\n cr\r tab\t bs\u{8} ff\u{c} ls\u{2028} ps\u{2029} c1\u{1} c1f\u{1f} del\u{7f} é 🚀",
        );
        let expected = "[\"q\\\" b\\\\ \\u003Ctag> nl\\n cr\\r tab\\t bs\\b ff\\f ls\\u2028 ps\\u2029 c1\\u0001 c1f\\u001f del\u{7f} é 🚀\"]";
        assert_eq!(stringify(&value), expected);
        assert_eq!(parse(expected).unwrap(), value);
    }

    #[test]
    fn numbers_are_written_like_javascript() {
        // Reference text from devalue 5.9.4's stringify of the same array.
        let numbers = [
            0.0,
            -0.0,
            1e21,
            1e-7,
            1.5e-7,
            123_456_789_012_345_680_000.0,
            0.000_001,
            5e-324,
            1.797_693_134_862_315_7e308,
            -2.5,
            0.1,
            100.0,
            9_007_199_254_740_992.0,
            1e20,
            123e-20,
            -1e-7,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let value = Value::Array(numbers.iter().map(|n| Value::Number(*n)).collect());
        let expected = "[[1,-6,2,3,4,5,6,7,8,9,10,11,12,13,14,15,-3,-4,-5],0,1e+21,1e-7,1.5e-7,\
            123456789012345680000,0.000001,5e-324,1.7976931348623157e+308,-2.5,0.1,100,\
            9007199254740992,100000000000000000000,1.23e-18,-1e-7]";
        assert_eq!(stringify(&value), expected);
        assert_eq!(parse(expected).unwrap(), value);
    }

    #[test]
    fn primitives_share_slots_by_type_and_value() {
        // Reference text from devalue 5.9.4.
        let value = obj(&[
            ("a", Value::from("x")),
            ("b", Value::from("x")),
            ("c", Value::Number(1.0)),
            ("d", Value::from("1")),
            ("e", Value::Bool(true)),
            ("f", Value::Null),
            ("g", Value::Null),
            (
                "h",
                Value::Array(vec![
                    Value::Bool(true),
                    Value::Number(1.0),
                    Value::from("x"),
                ]),
            ),
            ("i", Value::Object(vec![])),
            ("j", Value::Array(vec![])),
        ]);
        let expected = r#"[{"a":1,"b":1,"c":2,"d":3,"e":4,"f":5,"g":5,"h":6,"i":7,"j":8},"x",1,"1",true,null,[4,2,1],{},[]]"#;
        assert_eq!(stringify(&value), expected);
    }

    #[test]
    fn keys_are_escaped_and_undefined_is_kept_as_an_index() {
        // Reference texts from devalue 5.9.4.
        let keys = obj(&[
            ("<k>", Value::Number(1.0)),
            ("a\"b", Value::Number(2.0)),
            ("", Value::Number(3.0)),
        ]);
        assert_eq!(stringify(&keys), r#"[{"\u003Ck>":1,"a\"b":2,"":3},1,2,3]"#);
        let nested = Value::Array(vec![
            Value::Undefined,
            obj(&[
                ("u", Value::Undefined),
                ("v", Value::Array(vec![Value::Undefined])),
            ]),
        ]);
        assert_eq!(stringify(&nested), r#"[[-1,1],{"u":-1,"v":2},[-1]]"#);
        assert_eq!(nested.to_json(), json!([null, {"v": [null]}]));
    }

    #[test]
    fn proto_keys_are_left_out_when_writing() {
        let value = obj(&[("__proto__", Value::Null), ("a", Value::Bool(true))]);
        assert_eq!(stringify(&value), r#"[{"a":1},true]"#);
    }

    #[test]
    fn json_values_convert_both_ways() {
        let json = json!({"n": 3, "f": 2.5, "s": "x", "a": [true, null], "o": {}});
        let value = Value::from(json.clone());
        assert_eq!(value.get("n"), Some(&Value::Number(3.0)));
        assert_eq!(value.get("s").and_then(Value::as_str), Some("x"));
        assert_eq!(
            value.get("a").and_then(Value::as_array).map(<[Value]>::len),
            Some(2)
        );
        assert_eq!(value.to_json(), json);
        assert_eq!(Value::Number(1e300).to_json(), json!(1e300));
    }

    #[test]
    fn set_replaces_in_place_or_appends() {
        let mut value = obj(&[("a", Value::Null), ("b", Value::Null)]);
        assert!(value.set("a", Value::Bool(true)));
        assert!(value.set("c", Value::Bool(false)));
        assert_eq!(
            value,
            obj(&[
                ("a", Value::Bool(true)),
                ("b", Value::Null),
                ("c", Value::Bool(false))
            ])
        );
        assert!(!Value::Null.set("a", Value::Null));
    }

    #[test]
    fn truthiness_follows_javascript() {
        let falsy = [
            Value::Undefined,
            Value::Null,
            Value::Bool(false),
            Value::Number(0.0),
            Value::Number(f64::NAN),
            Value::from(""),
        ];
        assert!(falsy.iter().all(|v| !v.is_truthy()));
        let truthy = [
            Value::Bool(true),
            Value::Number(-1.0),
            Value::from("0"),
            Value::Array(vec![]),
            Value::Object(vec![]),
        ];
        assert!(truthy.iter().all(Value::is_truthy));
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Undefined),
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(Value::Number),
            prop_oneof![
                Just(0.0),
                Just(-0.0),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(1.0)
            ]
            .prop_map(Value::Number),
            any::<String>().prop_map(Value::String),
            "[a-c<\"\\\\]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..6).prop_map(|entries| {
                    let mut seen = std::collections::HashSet::new();
                    let unique = entries
                        .into_iter()
                        .filter(|(key, _)| key != "__proto__" && seen.insert(key.clone()))
                        .collect();
                    Value::Object(unique)
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_inverts_stringify(value in arb_value()) {
            let text = stringify(&value);
            prop_assert_eq!(parse(&text), Ok(value), "{}", text);
        }

        #[test]
        fn js_numbers_round_trip(n in any::<f64>().prop_filter("finite", |n| n.is_finite())) {
            let text = js_number_to_string(n);
            let back: f64 = text.parse().unwrap();
            // String(-0) is "0": the only number whose text does not give it back exactly.
            let expected = if n == 0.0 { 0.0_f64 } else { n };
            prop_assert_eq!(back.to_bits(), expected.to_bits(), "{} -> {}", n, text);
            prop_assert!(!text.contains('e') || text.contains("e+") || text.contains("e-"));
        }
    }
}
