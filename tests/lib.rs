mod integration {}
