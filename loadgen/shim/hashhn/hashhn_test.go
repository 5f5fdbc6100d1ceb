package hashhn

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pequod-go/pequod/loadgen/hn"
)

func TestLayoutRoundTrips(t *testing.T) {
	if got := string(Key("ac|", 42)); got != "ac|42" {
		t.Errorf("Key = %q", got)
	}
	if a, err := ArticleAuthor(ArticleValue(7)); err != nil || a != 7 {
		t.Errorf("ArticleAuthor(ArticleValue(7)) = %d, %v", a, err)
	}
	if got := string(VoteEntry(3)); got != "3," {
		t.Errorf("VoteEntry = %q", got)
	}
	list := append(CommentEntry(5, 100), CommentEntry(0, 101)...)
	if string(list) != "5|100\xad0|101\xad" {
		t.Errorf("comment list %q", list)
	}
	cs, err := ParseComments(list)
	want := []hn.Comment{{ID: 100, Commenter: 5}, {ID: 101, Commenter: 0}}
	if err != nil || !reflect.DeepEqual(cs, want) {
		t.Errorf("ParseComments = %v, %v", cs, err)
	}
	if cs, err := ParseComments(nil); err != nil || cs != nil {
		t.Errorf("empty list: %v, %v", cs, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, v := range []string{"5|100", "5100\xad", "|1\xad", "x|1\xad", "1|99999999999\xad"} {
		if _, err := ParseComments([]byte(v)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseComments(%q) = %v, want ErrMalformed", v, err)
		}
	}
	for _, v := range []string{"", "7", "|x", "x|y"} {
		if _, err := ArticleAuthor([]byte(v)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ArticleAuthor(%q) = %v, want ErrMalformed", v, err)
		}
	}
}
