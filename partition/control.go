package partition

import (
	"fmt"
	"os"
	"strings"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/wire"
)

// truthy is the JavaScript truthiness control objects use (server.md §1.7).
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case uint64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return true
}

// readOnlyControl tells whether a control key (server.md §1.7 and the
// Pequod-Go extensions below) only reads: it neither changes server state
// nor writes files or logs. Every other key is an admin key (see
// AdminControlKey). Keep this in step with control: a key added there is
// admin until it is listed here.
func readOnlyControl(key string) bool {
	switch key {
	case "is_ready", "get_log", "tamer_blocking", "client_status", "count_stored", "find_stored":
		return true
	}
	return false
}

// AdminControlKey returns the admin key of a control object: a key that
// changes server state or writes files or logs (quit, write_log, clear_log,
// print_table_keys, print, print_validation_log, flush_db_queue), or marks
// the connection as a server-to-server link (interconnect). Unknown keys
// count as admin, so the check fails closed. The key's value does not
// matter: {"quit": false} is still admin. It returns "" when every key only
// reads (or obj is empty or nil). Of several admin keys it returns the
// smallest, so that messages are deterministic.
func AdminControlKey(obj map[string]any) string {
	admin := ""
	for k := range obj {
		if !readOnlyControl(k) && (admin == "" || k < admin) {
			admin = k
		}
	}
	return admin
}

// control handles [13, seq, obj] (server.md §1.7): at most one of the
// payload-producing keys, then the general keys.
func (s *Server) control(q *Request, all func(task)) {
	obj := q.Control
	set := func(k string) bool { return obj != nil && truthy(obj[k]) }
	payload := func(b []byte) []byte { return wire.AppendMapHeader(b, 0) }
	switch {
	case set("is_ready"):
		ready := true
		if c := s.cfg.Cluster; c != nil && c.Ready != nil {
			ready = c.Ready() // links to every other server are up (§3.2)
		}
		payload = func(b []byte) []byte { return wire.AppendBool(b, ready) }
	case set("get_log"):
		data := s.log5.json()
		payload = func(b []byte) []byte {
			b = wire.AppendMapHeader(b, 3)
			b = wire.AppendString(b, "backend")
			b = wire.AppendBool(b, false)
			b = wire.AppendString(b, "data")
			b, _ = wire.AppendJSON(b, data)
			b = wire.AppendString(b, "internal")
			return wire.AppendNil(b)
		}
	case set("write_log"):
		fmt.Fprintf(os.Stderr, "%s\n", s.log5.json())
	case set("clear_log"):
		s.log5.clear()
	case set("tamer_blocking"):
		payload = func(b []byte) []byte { return wire.AppendArrayHeader(b, 0) }
	case set("client_status"):
		payload = func(b []byte) []byte {
			b = wire.AppendMapHeader(b, 2)
			b = wire.AppendString(b, "clients")
			b = wire.AppendArrayHeader(b, 0)
			b = wire.AppendString(b, "interconnect")
			return wire.AppendArrayHeader(b, 0)
		}
	}
	// Pequod-Go extensions for tests and debugging: non-validating reads
	// (joins.md §5 find and count), which the original offers only through
	// its C++ API. {"count_stored": [first, last]} → integer;
	// {"find_stored": key} → {"found": bool, "value": string}.
	if rng, ok := obj["count_stored"].([]any); ok && len(rng) == 2 {
		first, _ := rng[0].(string)
		last, _ := rng[1].(string)
		g := newGather(q, len(s.parts))
		all(func(p *part) {
			var n int64
			p.eng.ScanStored(first, last, func(k, _ string) bool {
				if p.srv.router.Owner(k) == p.id {
					n++
				}
				return true
			})
			g.done(func() { g.count += n })
		})
		g.finishWith = func() {
			q.replyInt(g.count)
		}
		return
	}
	if key, ok := obj["find_stored"].(string); ok {
		id := s.router.Owner(key)
		all(func(p *part) {
			if p.id != id {
				return
			}
			v, found := p.eng.Find(key)
			q.reply(wire.StatusOK, func(b []byte) []byte {
				b = wire.AppendMapHeader(b, 2)
				b = wire.AppendString(b, "found")
				b = wire.AppendBool(b, found)
				b = wire.AppendString(b, "value")
				return wire.AppendString(b, v)
			})
		})
		return
	}
	if set("quit") {
		s.log.Info("control quit received")
		if s.cfg.OnQuit != nil {
			s.quit.Do(s.cfg.OnQuit)
		}
		return // no reply (§1.7)
	}
	if set("print_table_keys") {
		prefix, _ := obj["print_table_keys"].(string)
		table := joins.TableName(prefix)
		all(func(p *part) {
			var sb strings.Builder
			p.eng.ScanStored(table+"|", table+"}", func(k, _ string) bool {
				if p.srv.router.Owner(k) == p.id && strings.HasPrefix(k, prefix) {
					sb.WriteString(k)
					sb.WriteByte('\n')
				}
				return true
			})
			fmt.Fprint(os.Stderr, sb.String())
		})
	}
	q.reply(wire.StatusOK, payload)
}
