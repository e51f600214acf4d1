//! Output shaped for models: every tool result is one JSON text of at most [`RESULT_LIMIT`]
//! bytes. A stream too long to show whole keeps its head and its tail with the count of bytes
//! left out between them; binary data is summarised (size and the first bytes in hex), never
//! shown.

use serde_json::{Value, json};

/// The most bytes a tool result's text ever has (16 KiB).
pub const RESULT_LIMIT: usize = 16 * 1024;

/// How many bytes of binary data a summary shows in hex.
const HEX_PREVIEW: usize = 32;

/// Per-stream budgets tried in turn until the result fits [`RESULT_LIMIT`] (escaping in JSON
/// can make text several times longer than its bytes).
const BUDGETS: [usize; 7] = [7 * 1024, 4 * 1024, 2 * 1024, 1024, 512, 128, 0];

/// How much of a stream is sampled to decide whether it is binary.
const SAMPLE: usize = 64 * 1024;

/// Whether `bytes` look like binary data rather than text: a NUL byte, or more than 5% of the
/// sampled characters invalid UTF-8 or control characters other than the usual whitespace and
/// terminal escapes.
#[must_use]
pub fn looks_binary(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(SAMPLE)];
    if sample.contains(&0) {
        return true;
    }
    let text = String::from_utf8_lossy(sample);
    let mut total = 0usize;
    let mut odd = 0usize;
    for c in text.chars() {
        total += 1;
        let control = c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x1b' | '\x08' | '\x0c');
        if c == char::REPLACEMENT_CHARACTER || control {
            odd += 1;
        }
    }
    // A sample cut inside a multi-byte character ends with one replacement: not binary.
    odd > 1 && odd * 20 > total
}

/// `bytes` as a hexdump of its first [`HEX_PREVIEW`] bytes (`7f 45 4c 46 …`).
fn hex_preview(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(HEX_PREVIEW)];
    let mut hex = shown.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    if bytes.len() > HEX_PREVIEW {
        hex.push_str(" …");
    }
    hex
}

/// [`stream`] for output that reached us as text, its invalid bytes already replaced by
/// U+FFFD (exec results): the same shape, but a binary summary shows each replaced sequence as
/// `??` in its hex preview and says that the size is the text's.
#[must_use]
pub fn text_stream(text: &str, budget: usize) -> Value {
    if !looks_binary(text.as_bytes()) {
        return stream(text.as_bytes(), budget);
    }
    let mut tokens = Vec::new();
    for c in text.chars() {
        if c == char::REPLACEMENT_CHARACTER {
            tokens.push("??".to_owned());
        } else {
            let mut buf = [0u8; 4];
            tokens.extend(c.encode_utf8(&mut buf).bytes().map(|b| format!("{b:02x}")));
        }
        if tokens.len() > HEX_PREVIEW {
            break;
        }
    }
    let more = tokens.len() > HEX_PREVIEW;
    tokens.truncate(HEX_PREVIEW);
    let mut hex = tokens.join(" ");
    if more {
        hex.push_str(" …");
    }
    json!({
        "bytes": text.len(),
        "binary": true,
        "first_bytes_hex": hex,
        "note": "binary output is not shown (its size is that of the text the server returned, \
                 where each invalid byte sequence, `??` above, became U+FFFD); to inspect it, \
                 redirect it to a file and run e.g. `xxd FILE | head` or `file FILE`",
    })
}

/// The largest index ≤ `at` on a character boundary of `text`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The smallest index ≥ `at` on a character boundary of `text`.
fn ceil_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// One stream (`stdout`, `stderr`, a file's content) shaped to show at most `budget` bytes:
/// `{"bytes", "text"}` when it fits; else `text` is its head, a marker line and its tail, and
/// `omitted_bytes` counts what was left out; binary data gives `{"bytes", "binary": true,
/// "first_bytes_hex", "note"}`.
#[must_use]
pub fn stream(bytes: &[u8], budget: usize) -> Value {
    if looks_binary(bytes) {
        return json!({
            "bytes": bytes.len(),
            "binary": true,
            "first_bytes_hex": hex_preview(bytes),
            "note": format!(
                "binary data ({} bytes) is not shown; write it to a file and inspect it with a \
                 command (e.g. `xxd FILE | head`, `file FILE`)",
                bytes.len()
            ),
        });
    }
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= budget {
        return json!({ "bytes": bytes.len(), "text": text });
    }
    let head_end = floor_boundary(&text, budget / 2);
    let tail_start = ceil_boundary(&text, text.len() - (budget - budget / 2));
    let omitted = tail_start - head_end;
    let shown =
        format!("{}\n[… {omitted} bytes omitted …]\n{}", &text[..head_end], &text[tail_start..]);
    json!({ "bytes": bytes.len(), "text": shown, "omitted_bytes": omitted })
}

/// Serializes the result `build` makes for a per-stream budget, trying smaller budgets until
/// it fits [`RESULT_LIMIT`]; a result that never fits (huge fields outside the streams) is
/// replaced by an error object saying so.
#[must_use]
pub fn fit(build: impl Fn(usize) -> Value) -> String {
    for budget in BUDGETS {
        let text = build(budget).to_string();
        if text.len() <= RESULT_LIMIT {
            return text;
        }
    }
    json!({ "error": "the result was too large to return; ask for less (a narrower path, an \
                      offset and length, fewer items)" })
    .to_string()
}

/// Cuts `items` to the longest prefix whose serialization with `wrap` fits [`RESULT_LIMIT`],
/// returning the text and how many items were left out.
#[must_use]
pub fn fit_list(items: &[Value], wrap: impl Fn(&[Value], usize) -> Value) -> String {
    let mut keep = items.len();
    loop {
        let text = wrap(&items[..keep], items.len() - keep).to_string();
        if text.len() <= RESULT_LIMIT || keep == 0 {
            return text;
        }
        // Halve until it fits: a listing larger than the limit is cut hard anyway.
        keep /= 2;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn short_text_is_shown_whole() {
        let shaped = stream(b"hello\n", 100);
        assert_eq!(shaped, json!({"bytes": 6, "text": "hello\n"}));
    }

    #[test]
    fn long_text_keeps_head_and_tail_and_counts_the_rest() {
        let text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        let shaped = stream(text.as_bytes(), 1000);
        let shown = shaped["text"].as_str().unwrap();
        assert!(shown.starts_with("line 0\n"), "{shown}");
        assert!(shown.ends_with("line 9999\n"), "{shown}");
        let omitted = shaped["omitted_bytes"].as_u64().unwrap() as usize;
        assert_eq!(omitted, text.len() - 1000);
        assert!(shown.contains(&format!("[… {omitted} bytes omitted …]")));
        assert_eq!(shaped["bytes"], text.len());
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let text = "é".repeat(5000);
        let shaped = stream(text.as_bytes(), 101);
        let shown = shaped["text"].as_str().unwrap();
        assert!(shown.starts_with('é') && shown.ends_with('é'));
        let omitted = shaped["omitted_bytes"].as_u64().unwrap() as usize;
        let kept = shown.chars().filter(|&c| c == 'é').count() * 'é'.len_utf8();
        assert_eq!(kept + omitted, text.len());
    }

    #[test]
    fn binary_is_summarised_with_a_hex_preview() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let shaped = stream(&bytes, 10_000);
        assert_eq!(shaped["binary"], true);
        assert_eq!(shaped["bytes"], 5000);
        assert!(shaped.get("text").is_none());
        let hex = shaped["first_bytes_hex"].as_str().unwrap();
        assert!(hex.starts_with("00 01 02 03"), "{hex}");
        assert!(hex.ends_with('…'));
    }

    #[test]
    fn binary_exec_text_marks_replaced_bytes() {
        let text = format!("\u{7f}ELF{}", "\u{FFFD}".repeat(40));
        let shaped = text_stream(&text, 1000);
        assert_eq!(shaped["binary"], true);
        assert!(shaped["first_bytes_hex"].as_str().unwrap().starts_with("7f 45 4c 46 ?? ??"));
        assert_eq!(text_stream("plain\n", 100), json!({"bytes": 6, "text": "plain\n"}));
    }

    #[test]
    fn text_with_colours_and_one_cut_character_is_not_binary() {
        assert!(!looks_binary(b"\x1b[31mred\x1b[0m\ttab\r\n"));
        let mut cut = "é".repeat(100).into_bytes();
        cut.pop();
        assert!(!looks_binary(&cut));
        assert!(looks_binary(b"\x7fELF\x02\x01\x01\0\0\0"));
        assert!(looks_binary(&[0xff, 0xfe, 0x80, 0x81, 0x82, b'a']));
    }

    #[test]
    fn fit_never_exceeds_the_limit_even_when_escaping_inflates() {
        // Control characters escape to six bytes each in JSON.
        let nasty = "\u{1}a".repeat(100_000);
        let text = fit(|budget| json!({"stdout": stream(nasty.as_bytes(), budget)}));
        assert!(text.len() <= RESULT_LIMIT, "{}", text.len());
        let big = "x".repeat(3_000_000);
        let text = fit(
            |budget| json!({"stdout": stream(big.as_bytes(), budget), "stderr": stream(big.as_bytes(), budget)}),
        );
        assert!(text.len() <= RESULT_LIMIT, "{}", text.len());
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["stdout"]["bytes"], 3_000_000);
        let huge_field = fit(|_| json!({"name": "y".repeat(RESULT_LIMIT)}));
        assert!(huge_field.contains("too large"));
    }

    #[test]
    fn fit_list_drops_items_that_do_not_fit() {
        let items: Vec<Value> =
            (0..5000).map(|i| json!({"path": format!("/w/file-{i}")})).collect();
        let text =
            fit_list(&items, |kept, left_out| json!({"entries": kept, "left_out": left_out}));
        assert!(text.len() <= RESULT_LIMIT);
        let value: Value = serde_json::from_str(&text).unwrap();
        let kept = value["entries"].as_array().unwrap().len();
        assert!(kept > 100);
        assert_eq!(value["left_out"].as_u64().unwrap() as usize, 5000 - kept);
    }
}
