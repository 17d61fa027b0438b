//! Encrypts or decrypts a file with the stream format in constant memory.
//!
//! ```text
//! cargo run --release -p ward-crypto --example stream_file -- encrypt <in> <out>
//! cargo run --release -p ward-crypto --example stream_file -- decrypt <in> <out>
//! ```
//!
//! The data key is fixed (32 bytes of 0x07, id 1): this is a demonstration and measurement tool
//! (peak memory with `/usr/bin/time -v`), not a way to protect real data.

use std::path::PathBuf;

use tokio::io::{AsyncWriteExt, BufReader};
use ward_crypto::stream::{StreamDecryptor, StreamEncryptor};
use ward_crypto::{DataKey, DekId, KeyMaterial};

const IO_BUF: usize = 256 * 1024;
/// What the file is, bound into every chunk: decrypting needs the same context.
const CONTEXT: &[u8] = b"stream_file example";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, input, output] = args.as_slice() else {
        return Err("usage: stream_file encrypt|decrypt <in> <out>".into());
    };
    let (input, output) = (PathBuf::from(input), PathBuf::from(output));
    let dek = DataKey::new(DekId(1), KeyMaterial::from_bytes(&[7; 32])?);
    let src = BufReader::with_capacity(IO_BUF, tokio::fs::File::open(&input).await?);
    // No write buffer: the encryptor writes whole sealed chunks, the decryptor is read through
    // a 256 KiB buffer, and tokio's `File` writes behind in its own buffer.
    let dst = tokio::fs::File::create(&output).await?;
    let bytes = match mode.as_str() {
        "encrypt" => {
            let mut src = src;
            let mut enc = StreamEncryptor::new(&dek, dst, CONTEXT)?;
            let n = tokio::io::copy_buf(&mut src, &mut enc).await?;
            enc.shutdown().await?;
            n
        }
        "decrypt" => {
            let mut dec =
                BufReader::with_capacity(IO_BUF, StreamDecryptor::new(&dek, src, CONTEXT));
            let mut dst = dst;
            let n = tokio::io::copy_buf(&mut dec, &mut dst)
                .await
                .map_err(ward_crypto::Error::from_io)?;
            dst.shutdown().await?;
            n
        }
        other => return Err(format!("unknown mode `{other}`: use encrypt or decrypt").into()),
    };
    println!("{mode}: {bytes} plaintext bytes");
    Ok(())
}
