mod integration {}
mod http;
