//! Display-name rules, one test per rule.

use ward_sanitize::{FileKind, MAX_DISPLAY_NAME_BYTES, display_name};

#[test]
fn keeps_only_the_last_path_component() {
    assert_eq!(display_name("/etc/passwd.png", FileKind::Png), "passwd.png");
    assert_eq!(
        display_name("C:\\Users\\x\\scan.pdf", FileKind::Pdf),
        "scan.pdf"
    );
    assert_eq!(display_name("..\\..\\a.png", FileKind::Png), "a.png");
}

#[test]
fn normalises_to_nfc() {
    // "é" as e + combining acute becomes the single precomposed character.
    assert_eq!(
        display_name("caf\u{0065}\u{0301}.jpg", FileKind::Jpeg),
        "caf\u{00e9}.jpg"
    );
}

#[test]
fn drops_control_bidi_and_zero_width_characters() {
    assert_eq!(
        display_name("a\u{0007}b\u{0000}c.png", FileKind::Png),
        "abc.png"
    );
    assert_eq!(
        display_name("inv\u{202e}gnp.exe", FileKind::Png),
        "invgnp.exe.png"
    );
    assert_eq!(
        display_name("x\u{200b}\u{200d}\u{feff}\u{2066}y.png", FileKind::Png),
        "xy.png"
    );
}

#[test]
fn reserved_device_names_are_escaped() {
    assert_eq!(display_name("con.pdf", FileKind::Pdf), "_con.pdf");
    assert_eq!(display_name("LPT1.pdf", FileKind::Pdf), "_LPT1.pdf");
    assert_eq!(display_name("nul.tar.pdf", FileKind::Pdf), "_nul.tar.pdf");
    assert_eq!(display_name("console.pdf", FileKind::Pdf), "console.pdf");
}

#[test]
fn leading_dots_go_and_runs_collapse() {
    assert_eq!(display_name(".hidden.png", FileKind::Png), "hidden.png");
    assert_eq!(
        display_name("a   b\u{3000}\u{3000}c..png", FileKind::Png),
        "a b c.png"
    );
    assert_eq!(display_name("a\tb.png", FileKind::Png), "ab.png");
    assert_eq!(display_name("  x.png  ", FileKind::Png), "x.png");
    assert_eq!(display_name("a<b>c?.png", FileKind::Png), "a_b_c_.png");
}

#[test]
fn at_most_255_bytes_keeping_the_extension() {
    let long = format!("{}.jpeg", "é".repeat(300));
    let name = display_name(&long, FileKind::Jpeg);
    assert!(name.len() <= MAX_DISPLAY_NAME_BYTES, "{}", name.len());
    assert!(name.ends_with(".jpeg"));
    assert!(name.len() >= MAX_DISPLAY_NAME_BYTES - 1);
    let exact = format!("{}.png", "a".repeat(251));
    assert_eq!(display_name(&exact, FileKind::Png), exact);
    let over = format!("{}.png", "a".repeat(252));
    assert_eq!(display_name(&over, FileKind::Png).len(), 255);
}

#[test]
fn the_extension_matches_the_validated_type() {
    assert_eq!(display_name("photo", FileKind::Jpeg), "photo.jpg");
    assert_eq!(display_name("photo.JPEG", FileKind::Jpeg), "photo.JPEG");
}

#[test]
fn nothing_left_becomes_attachment() {
    assert_eq!(display_name("", FileKind::Pdf), "attachment.pdf");
    assert_eq!(
        display_name("\u{202e}\u{200b}", FileKind::Webp),
        "attachment.webp"
    );
    assert_eq!(display_name("dir/", FileKind::Png), "attachment.png");
    assert_eq!(display_name("...", FileKind::Png), "attachment.png");
}

#[test]
fn the_second_spelling_of_an_extension_is_kept() {
    assert_eq!(display_name("Wound.JPEG", FileKind::Jpeg), "Wound.JPEG");
    assert_eq!(
        display_name("IMG_0001.heif", FileKind::Heic),
        "IMG_0001.heif"
    );
    assert_eq!(
        display_name("IMG_0001.HEIC", FileKind::Heic),
        "IMG_0001.HEIC"
    );
    assert_eq!(
        display_name("IMG_0001.png", FileKind::Heic),
        "IMG_0001.png.heic"
    );
}
