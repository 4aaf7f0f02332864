package main

import (
	"fmt"
	"runtime"
	"strings"
)

// A small program for the multi-stage example: compiled in a heavy Go image, shipped alone FROM scratch.
func main() {
	fmt.Println("Hello from a multi-stage build!")
	words := []string{"build", "stage", "copy", "ship"}
	fmt.Println("Steps:", strings.Join(words, " -> "))
	fmt.Printf("Built with %s for %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
