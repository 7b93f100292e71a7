fn main() { println!("xtask: not built yet"); }
