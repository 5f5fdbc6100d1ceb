module github.com/pequod-go/pequod

go 1.26.8

require github.com/huandu/skiplist v1.2.1
