SELECT * FROM nexmark
