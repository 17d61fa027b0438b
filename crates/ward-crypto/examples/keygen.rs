//! Prints a fresh random 256-bit key in standard base64, for a KEK ring or a legacy-key setting.
//!
//! ```text
//! cargo run -p ward-crypto --example keygen                 # the key alone
//! cargo run -p ward-crypto --example keygen -- 3 active     # a key-ring line: 3:<key>:active
//! ```
//!
//! The key comes from the operating system's generator and is printed once to stdout; nothing is
//! written anywhere else. Store it in a secret manager or a file readable only by its owner.

use ward_crypto::KeyMaterial;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let key = KeyMaterial::generate()?;
    let encoded = key.to_base64();
    match args.as_slice() {
        [] => println!("{}", encoded.as_str()),
        [id] => println!("{}:{}", id.parse::<u32>()?, encoded.as_str()),
        [id, active] if active == "active" => {
            println!("{}:{}:active", id.parse::<u32>()?, encoded.as_str());
        }
        _ => return Err("usage: keygen [<id> [active]]".into()),
    }
    Ok(())
}
