package main

import (
	"reflect"
	"testing"
)

func TestParseProperties(t *testing.T) {
	in := "# comment\n! also a comment\n\n  plugin.library.paths = /x/libkafka-mtls.so\r\n" +
		"ssl.endpoint.identification.algorithm=\n" +
		"a:b\nc d\nlong=one,\\\n    two\nesc\\=key=tab\\there\\u0041\n" +
		"trailing=kept \nlast\\"
	got, err := parseProperties(in)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"plugin.library.paths", "/x/libkafka-mtls.so"},
		{"ssl.endpoint.identification.algorithm", ""},
		{"a", "b"},
		{"c", "d"},
		{"long", "one,two"},
		{"esc=key", "tab\thereA"},
		{"trailing", "kept "},
		{"last", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if _, err := parseProperties("k=\\u12"); err == nil {
		t.Fatal("a short \\u escape was accepted")
	}
}
