mod integration {}
mod tools;
