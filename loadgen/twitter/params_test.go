package twitter

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	p := DefaultParams()
	p.NGroups, p.GroupID = 3, 2
	p.PostLimit, p.CheckLimit = 10, 7
	q, err := p.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if q.Duration != 33333 || q.PostLimit != 3 || q.CheckLimit != 2 {
		t.Errorf("per-group division: %d %d %d", q.Duration, q.PostLimit, q.CheckLimit)
	}

	p = DefaultParams()
	p.Push = true
	p.PrevalidateInactive = true
	if q, err = p.Normalize(); err != nil || q.Prevalidate || q.PrevalidateInactive {
		t.Errorf("push keeps prevalidation: %+v %v", q, err)
	}
	p = DefaultParams()
	p.Pull = true
	if q, err = p.Normalize(); err != nil || q.Prevalidate {
		t.Errorf("pull keeps prevalidation: %v", err)
	}

	p = DefaultParams()
	p.PostRate, p.Timeout = 100, 5
	if q, err = p.Normalize(); err != nil || q.Duration != 0 || q.Synchronous != 1 {
		t.Errorf("open loop: duration %d synchronous %d err %v", q.Duration, q.Synchronous, err)
	}
	p.Synchronous = 50
	if q, _ = p.Normalize(); q.Synchronous != 50 {
		t.Errorf("open loop overrides synchronous %d", q.Synchronous)
	}

	for _, c := range []struct {
		want string
		set  func(*Params)
	}{
		{"exclude", func(p *Params) { p.Push, p.Pull = true, true }},
		{"timeout", func(p *Params) { p.PostRate = 10 }},
		{"timeout", func(p *Params) { p.Timeout = 10 }},
		{"timeout", func(p *Params) { p.PostRate, p.Timeout, p.NGroups = 1, 10, 2 }}, // postrate/ngroups = 0
		{"prevalidate_before_sub", func(p *Params) { p.PrevalidateBeforeSub, p.Prevalidate = true, false }},
		{"prevalidate_before_sub", func(p *Params) { p.PrevalidateBeforeSub, p.Push = true, true }},
		{"ngroups", func(p *Params) { p.NGroups = 0 }},
		{"groupid", func(p *Params) { p.GroupID = 1 }},
		{"nusers", func(p *Params) { p.NUsers = 1 }},
		{"nusers/4", func(p *Params) { p.NUsers = 300 }},
		{"negative", func(p *Params) { p.Duration = -1 }},
		{"pactive", func(p *Params) { p.PActive = 101 }},
		{"weights", func(p *Params) { p.PPost, p.PSubscribe, p.PLogout, p.PRead = 0, 0, 0, 0 }},
		{"weights", func(p *Params) { p.PRead = -1 }},
		{"shape", func(p *Params) { p.Shape = 0 }},
		{"max_subscriptions", func(p *Params) { p.MinSubscriptions = 300 }},
		{"master_port", func(p *Params) { p.MasterPort = 70000 }},
	} {
		p := DefaultParams()
		c.set(&p)
		if _, err := p.Normalize(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v", c.want, err)
		}
	}
}
