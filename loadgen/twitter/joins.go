package twitter

// JoinSpec is one join the Pequod back end installs: the join text on the
// key range [First, Last).
type JoinSpec struct {
	First, Last string
	Text        string
}

// Joins returns the joins installed during initialize (spec/apps.md §2.5),
// in installation order, for normalized parameters p. Only Binary,
// Subtables, Push, Pull, Eager and Celebrity matter.
func Joins(p Params) []JoinSpec {
	// W3: the (user, time, poster) clause.
	var w3 string
	switch {
	case p.Subtables && p.Binary:
		w3 = "where user:4nt, time:4n, poster:4nt"
	case p.Subtables:
		w3 = "where user:8t, time:10, poster:8t"
	case p.Binary:
		w3 = "where user:4n, time:4n, poster:4n"
	default:
		w3 = "where user:8, time:10, poster:8"
	}
	if p.Push {
		// A dummy join that is never populated: it gives s|, p| and t| the
		// same subtable structure as the lazy mode, for fair comparisons.
		return []JoinSpec{{"xxx|", "xxx}",
			"xxx|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster>, t|<user>|<time>|<poster> " + w3}}
	}
	t := "t|<user>|<time>|<poster> = "
	if p.Pull {
		t += "pull "
	}
	t += "copy p|<poster>|<time> using "
	if p.Eager {
		t += "eager "
	}
	t += "s|<user>|<poster> " + w3
	out := []JoinSpec{{"t|", "t}", t}}
	if !p.CelebrityMode() {
		return out
	}
	var ct, cs, tc string
	if p.Binary {
		ct = "where poster:4n, time:4n"
	} else {
		ct = "where poster:8, time:10"
	}
	// Go fix (§2.5): text user ids are 8 digits, so the text cs| clauses use
	// poster:8 where the original declared poster:10.
	switch {
	case p.Subtables && p.Binary:
		cs = "where user:4nt, poster:4n"
		tc = "where user:4nt, time:4n, poster:4n"
	case p.Subtables:
		cs = "where user:8t, poster:8"
		tc = "where user:8t, time:10, poster:8"
	case p.Binary:
		cs = "where user:4n, poster:4n"
		tc = "where user:4n, time:4n, poster:4n"
	default:
		cs = "where user:8, poster:8"
		tc = "where user:8, time:10, poster:8"
	}
	return append(out,
		JoinSpec{"ct|", "ct}", "ct|<time>|<poster> = copy cp|<poster>|<time> " + ct},
		JoinSpec{"cs|", "cs}", "cs|<user>|<poster> = copy c|<poster> using s|<user>|<poster> " + cs},
		JoinSpec{"t|", "t}", "t|<user>|<time>|<poster> = pull copy ct|<time>|<poster> using filter cs|<user>|<poster> " + tc},
	)
}
