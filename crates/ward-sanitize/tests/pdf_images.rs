//! Images inside PDFs: JPEG (`DCTDecode`) image streams lose their EXIF, GPS and XMP, keep
//! their pixels, and a JPEG that cannot be cleaned refuses the file.

use lopdf::{Document, Object, ObjectId};
use ward_sanitize::{Category, Error, FileKind, Sanitizer};

use crate::common::*;

/// The stream's stored bytes and its `/Length` in the cleaned file.
fn image_stream(pdf: &[u8], id: ObjectId) -> (Vec<u8>, i64) {
    let doc = Document::load_mem(pdf).unwrap();
    let stream = doc.get_object(id).unwrap().as_stream().unwrap();
    let length = stream.dict.get(b"Length").unwrap().as_i64().unwrap();
    (stream.content.clone(), length)
}

/// The id of the only image XObject of the cleaned file's page (ids change on writing).
fn only_image(pdf: &[u8]) -> ObjectId {
    let doc = Document::load_mem(pdf).unwrap();
    let page = *doc.get_pages().values().next().unwrap();
    let resources = doc.get_dictionary(page).unwrap().get(b"Resources").unwrap();
    let xobjects = resources.as_dict().unwrap().get(b"XObject").unwrap();
    xobjects
        .as_dict()
        .unwrap()
        .get(b"Im1")
        .unwrap()
        .as_reference()
        .unwrap()
}

fn assert_jpeg_cleaned(filter: Object) {
    let img = picture(32, 24);
    let jpeg = jpeg_with_gps_and_xmp(&img);
    let (mut doc, _) = pdf_with_image(jpeg.clone(), filter, img.dimensions());
    let input = save(&mut doc);
    assert!(contains(&input, b"Exif\0\0"));
    assert!(contains(&input, b"http://ns.adobe.com/xap/1.0/"));

    let out = Sanitizer::new().sanitize("scan.pdf", &input).unwrap();
    assert_eq!(out.kind(), FileKind::Pdf);
    assert!(!contains(out.bytes(), b"Exif\0\0"));
    assert!(!contains(out.bytes(), b"http://ns.adobe.com/xap/1.0/"));
    assert!(!contains(out.bytes(), SECRET));
    assert!(out.report().has_removed(Category::Exif));
    assert!(out.report().has_removed(Category::Xmp));

    let (content, length) = image_stream(out.bytes(), only_image(out.bytes()));
    assert_eq!(length, content.len() as i64, "/Length follows the new data");
    assert!(content.len() < jpeg.len());
    assert_eq!(
        independent_jpeg_pixels(&content),
        independent_jpeg_pixels(&jpeg),
        "the image decodes to the same pixels"
    );
    // Cleaning again finds nothing more.
    let again = Sanitizer::new().sanitize("scan.pdf", out.bytes()).unwrap();
    assert!(again.report().removed().is_empty(), "{:?}", again.report());
}

#[test]
fn a_jpeg_image_loses_its_exif_gps_and_xmp_and_keeps_its_pixels() {
    // Seen failing before the PDF images were cleaned: the output kept `Exif\0\0`.
    assert_jpeg_cleaned(Object::Name(b"DCTDecode".to_vec()));
}

#[test]
fn a_jpeg_image_under_a_one_element_filter_array_is_cleaned() {
    assert_jpeg_cleaned(Object::Array(vec![Object::Name(b"DCTDecode".to_vec())]));
}

#[test]
fn a_jpeg_image_with_an_indirect_filter_name_is_cleaned() {
    let img = picture(16, 16);
    let jpeg = jpeg_with_gps_and_xmp(&img);
    let (mut doc, image) = pdf_with_image(jpeg, Object::Null, img.dimensions());
    let name = doc.add_object(Object::Name(b"DCTDecode".to_vec()));
    let filter = doc.add_object(Object::Array(vec![name.into()]));
    doc.get_object_mut(image)
        .unwrap()
        .as_stream_mut()
        .unwrap()
        .dict
        .set("Filter", filter);
    let out = Sanitizer::new()
        .sanitize("scan.pdf", &save(&mut doc))
        .unwrap();
    assert!(!contains(out.bytes(), b"Exif\0\0"));
    assert!(!contains(out.bytes(), SECRET));
}

#[test]
fn an_image_stream_that_is_not_a_jpeg_refuses_the_pdf() {
    // Seen failing before: the file was accepted with the stream copied as it was.
    let img = picture(16, 16);
    let mut cut = jpeg_with_gps_and_xmp(&img);
    cut.truncate(cut.len() / 2);
    for content in [cut, SECRET.to_vec()] {
        let (mut doc, _) = pdf_with_image(content, "DCTDecode".into(), img.dimensions());
        let err = Sanitizer::new()
            .sanitize("scan.pdf", &save(&mut doc))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed {
                    kind: FileKind::Pdf,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.rule(), "parse");
        assert!(!err.to_string().contains("JANE"));
    }
}

#[test]
fn a_jpeg_under_another_filter_refuses_the_pdf() {
    // Seen failing before: the file was accepted with the JPEG's metadata still inside.
    let img = picture(16, 16);
    let jpeg = jpeg_with_gps_and_xmp(&img);
    for filter in [
        vec!["FlateDecode", "DCTDecode"],
        vec!["ASCIIHexDecode", "DCTDecode"],
        vec!["DCTDecode", "DCTDecode"],
        vec!["DCT", "FlateDecode"],
    ] {
        let content = if filter[0] == "FlateDecode" {
            zlib(&jpeg)
        } else {
            jpeg.clone()
        };
        let filter_object = Object::Array(filter.iter().map(|&n| n.into()).collect());
        let (mut doc, _) = pdf_with_image(content, filter_object, img.dimensions());
        let err = Sanitizer::new()
            .sanitize("scan.pdf", &save(&mut doc))
            .unwrap_err();
        assert!(matches!(err, Error::PdfImage { .. }), "{filter:?}: {err:?}");
        assert_eq!(err.rule(), "pdf.image");
    }
}

#[test]
fn other_images_are_kept_as_they_are() {
    // Raw pixels under FlateDecode carry no metadata segments; they are copied unchanged.
    let img = picture(8, 8);
    let pixels = zlib(img.as_raw());
    let (mut doc, _) = pdf_with_image(pixels.clone(), "FlateDecode".into(), img.dimensions());
    let out = Sanitizer::new()
        .sanitize("scan.pdf", &save(&mut doc))
        .unwrap();
    let (content, length) = image_stream(out.bytes(), only_image(out.bytes()));
    assert_eq!(content, pixels);
    assert_eq!(length, pixels.len() as i64);
}
