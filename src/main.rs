//! `tine-server [configfile] [--name value ...]`: see `tine::startup`.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    std::process::exit(tine::app::startup::main());
}
