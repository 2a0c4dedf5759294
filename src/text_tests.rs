use super::*;

/// The escaped form of one character: `\xNN` per UTF-8 byte.
fn hex_form(c: char) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEF";
    let mut buf = [0u8; 4];
    let mut out = String::new();
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str("\\x");
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
    out
}

#[test]
fn table() {
    let cases: &[(&[u8], &str)] = &[
        (b"250-STARTTLS", "250-STARTTLS"),
        (b"a\r\n", "a\\x0D\\x0A"),
        (b"\x1b[2J", "\\x1B[2J"),
        (b"back\\slash", "back\\x5Cslash"),
        (b"\x7f", "\\x7F"),
        (b"caf\xc3\xa9", "caf\u{e9}"),
        (b"bad\xff\xfe", "bad\\xFF\\xFE"),
        (b"\xc2\x85", "\\xC2\\x85"),          // NEL, a C1 control
        (b"\xe2\x80\xae", "\\xE2\\x80\\xAE"), // right-to-left override
        (b"\"quote\"", "\"quote\""),
        // A lone surrogate (U+D800 in CESU/WTF-8) is invalid UTF-8.
        (b"s\xed\xa0\x80!", "s\\xED\\xA0\\x80!"),
        // A truncated sequence, then a valid one.
        (b"\xe2\x80 ok \xe2\x9c\x93", "\\xE2\\x80 ok \u{2713}"),
    ];
    for (input, want) in cases {
        assert_eq!(escape(input), *want, "input {input:?}");
    }
}

/// One or more code points of each class of the policy, each escaped
/// byte by byte, between printable neighbours that stay as they are.
#[test]
fn every_class_is_escaped() {
    let classes: &[(&str, &[char])] = &[
        ("Cc C0 and DEL", &['\0', '\t', '\u{1B}', '\u{7F}']),
        ("Cc C1", &['\u{80}', '\u{85}', '\u{9B}', '\u{9F}']),
        ("Cf Arabic letter mark", &['\u{61C}']),
        (
            "Cf zero width and directional marks",
            &['\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}'],
        ),
        (
            "Cf embeddings and overrides",
            &['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'],
        ),
        (
            "Cf word joiner, invisible operators",
            &['\u{2060}', '\u{2061}', '\u{2062}', '\u{2063}', '\u{2064}'],
        ),
        (
            "Cf isolates",
            &['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'],
        ),
        ("Cf deprecated format", &['\u{206A}', '\u{206F}']),
        ("Cf BOM", &['\u{FEFF}']),
        ("Cf soft hyphen", &['\u{AD}']),
        ("Cf Mongolian vowel separator", &['\u{180E}']),
        (
            "Cf interlinear annotation",
            &['\u{FFF9}', '\u{FFFA}', '\u{FFFB}'],
        ),
        (
            "Cf Arabic number signs",
            &['\u{600}', '\u{605}', '\u{6DD}', '\u{8E2}'],
        ),
        (
            "Cf shorthand, musical, Egyptian",
            &['\u{1BCA0}', '\u{1D173}', '\u{13430}'],
        ),
        (
            "Cf tags",
            &['\u{E0001}', '\u{E0020}', '\u{E0041}', '\u{E007F}'],
        ),
        ("Zl", &['\u{2028}']),
        ("Zp", &['\u{2029}']),
        (
            "Zs",
            &[
                '\u{A0}', '\u{1680}', '\u{2000}', '\u{200A}', '\u{202F}', '\u{205F}', '\u{3000}',
            ],
        ),
        (
            "noncharacters",
            &[
                '\u{FDD0}',
                '\u{FDEF}',
                '\u{FFFE}',
                '\u{FFFF}',
                '\u{1FFFE}',
                '\u{10FFFF}',
            ],
        ),
        (
            "unassigned",
            &['\u{2065}', '\u{E0000}', '\u{E0080}', '\u{EFFFD}'],
        ),
        (
            "default-ignorable letters and marks",
            &[
                '\u{34F}', '\u{115F}', '\u{1160}', '\u{17B4}', '\u{3164}', '\u{FFA0}',
            ],
        ),
        (
            "variation selectors",
            &[
                '\u{180B}',
                '\u{180F}',
                '\u{FE00}',
                '\u{FE0F}',
                '\u{E0100}',
                '\u{E01EF}',
            ],
        ),
    ];
    for (class, chars) in classes {
        for &c in *chars {
            let input = format!("a{c}b");
            let want = format!("a{}b", hex_form(c));
            assert_eq!(
                escape(input.as_bytes()),
                want,
                "{class}: U+{:04X}",
                u32::from(c)
            );
            assert_eq!(printable(&input), want, "{class}: U+{:04X}", u32::from(c));
        }
    }
}

/// Visible text of many scripts passes through unchanged.
#[test]
fn visible_text_passes() {
    for text in [
        "caf\u{e9} \u{fc}ber na\u{ef}ve",
        "\u{41c}\u{43e}\u{441}\u{43a}\u{432}\u{430}",
        "\u{627}\u{644}\u{639}\u{631}\u{628}\u{64a}\u{629}",
        "\u{65e5}\u{672c}\u{8a9e} \u{d55c}\u{ad6d}\u{c5b4}",
        "e\u{301} \u{2713} \u{20ac} \u{1F600} \u{E000} \u{2800}",
    ] {
        assert_eq!(escape(text.as_bytes()), text);
        assert!(matches!(printable(text), std::borrow::Cow::Borrowed(_)));
    }
}

/// Every `Cf` code point of Unicode 14 (from Python's `unicodedata`, an
/// independent source), as ranges: all of them are hidden.
const CF_UNICODE_14: &[(u32, u32)] = &[
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

#[test]
fn every_format_character_of_unicode_14_is_hidden() {
    for &(first, last) in CF_UNICODE_14 {
        for cp in first..=last {
            let c = char::from_u32(cp).unwrap();
            assert!(hidden(c), "U+{cp:04X}");
        }
    }
}

/// The whole code space: a character of the escaped categories (or a
/// noncharacter, or a listed invisible one) comes out as `\xNN` bytes;
/// every other one comes out as itself; backslash only is escaped besides.
#[test]
fn full_scan() {
    use GeneralCategory::*;
    let mut escaped = 0;
    let mut got = String::new();
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let category = c.general_category();
        let want_hidden = matches!(
            category,
            Control | Format | LineSeparator | ParagraphSeparator | Unassigned | Surrogate
        ) || (category == SpaceSeparator && c != ' ')
            || is_noncharacter(c)
            || invisible_letter_or_mark(c);
        let mut buf = [0u8; 4];
        let text: &str = c.encode_utf8(&mut buf);
        got.clear();
        escape_into(text.as_bytes(), &mut got);
        if want_hidden || c == '\\' {
            assert_eq!(got, hex_form(c), "U+{:04X} {category:?}", u32::from(c));
            escaped += 1;
        } else {
            assert_eq!(got, text, "U+{:04X} {category:?}", u32::from(c));
        }
    }
    // Most of the code space is unassigned; a sanity bound on both sides.
    assert!((800_000..1_000_000).contains(&escaped), "{escaped}");
}

#[test]
fn printable_leaves_escaped_text_alone() {
    let escaped = escape(b"a\x1b[2J\\b");
    assert_eq!(printable(&escaped), escaped);
    assert_eq!(printable("x\u{202E}y\n"), "x\\xE2\\x80\\xAEy\\x0A");
    assert_eq!(printable("x\u{2028}"), "x\\xE2\\x80\\xA8");
}

#[test]
fn truncated() {
    assert_eq!(escape_truncated(b"abcdef", 3), "abc...");
    assert_eq!(escape_truncated(b"abc", 3), "abc");
    // A cut inside a character leaves its first bytes escaped.
    assert_eq!(escape_truncated("a\u{e9}".as_bytes(), 2), "a\\xC3...");
}
