//! Write, list, stream and move files in a volume, with the blocking client.
#![allow(clippy::print_stdout)]

use porter_sandbox::{DEFAULT_CHUNK_BYTES, blocking::Porter, types::VolumeSpec};

fn main() -> porter_sandbox::Result<()> {
    let porter = Porter::new()?;
    let volume = porter.volumes().create(VolumeSpec::default())?.into_disk()?;
    volume.write_text("notes/hello.txt", "hello, volume\n")?;
    for file in volume.iterdir("/") {
        println!("{}", file?);
    }
    let mut total = 0;
    for chunk in volume.stream("notes/hello.txt", DEFAULT_CHUNK_BYTES)? {
        total += chunk?.len();
    }
    println!("streamed {total} bytes");
    volume.move_file("notes/hello.txt", "notes/renamed.txt")?;
    println!("{}", volume.read_text("notes/renamed.txt", None, None)?);
    volume.delete()?;
    Ok(())
}
