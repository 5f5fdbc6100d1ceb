package chart

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
)

// decode encodes c as PNG and decodes it back.
func decode(t *testing.T, write func(*bytes.Buffer) error) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decoding the PNG: %v", err)
	}
	return img
}

// census counts the non-white pixels of img and the pixels of each colour.
func census(img image.Image) (nonWhite int, colours map[color.RGBA]int) {
	colours = map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			colours[c]++
			if c != white {
				nonWhite++
			}
		}
	}
	return nonWhite, colours
}

func TestBarChartPNG(t *testing.T) {
	c := &BarChart{
		Title:  "get/set throughput",
		XLabel: "operation",
		YLabel: "thousand ops/s",
		YScale: 1000,
		Series: []string{"Pequod 1 partition", "Redis", "failed one"},
		Groups: []Group{
			{Name: "get", Values: []float64{250000, 500000, -1}},
			{Name: "set", Values: []float64{200000, 400000, math.NaN()}},
		},
		MissingLabel: "failed",
	}
	img := decode(t, func(b *bytes.Buffer) error { return c.WritePNG(b) })
	if got := img.Bounds(); got.Dx() != DefaultWidth || got.Dy() != DefaultHeight {
		t.Fatalf("bounds %v, want %dx%d", got, DefaultWidth, DefaultHeight)
	}
	nonWhite, colours := census(img)
	if nonWhite < 10000 {
		t.Errorf("only %d non-white pixels", nonWhite)
	}
	// Two bars of each present series, 20x20 legend squares: the first two
	// palette colours cover a lot of pixels; the third series only has its
	// legend square.
	for i := 0; i < 2; i++ {
		if n := colours[palette[i]]; n < 5000 {
			t.Errorf("series %d colour covers %d pixels", i, n)
		}
	}
	if n := colours[palette[2]]; n != 400 {
		t.Errorf("missing series colour covers %d pixels, want the 400 of its legend square", n)
	}
	if colours[grey] == 0 {
		t.Error("no missing-bar label drawn")
	}
	// The taller Redis get bar is twice the Pequod one: count its column of
	// blue and green pixels.
	heights := map[color.RGBA]int{}
	b := img.Bounds()
	for x := b.Min.X; x < b.Max.X/2; x++ {
		for _, p := range palette[:2] {
			n := 0
			for y := b.Min.Y; y < b.Max.Y; y++ {
				if color.RGBAModel.Convert(img.At(x, y)).(color.RGBA) == p {
					n++
				}
			}
			heights[p] = max(heights[p], n)
		}
	}
	if r := float64(heights[palette[1]]) / float64(heights[palette[0]]); r < 1.9 || r > 2.1 {
		t.Errorf("bar heights %v: ratio %.2f, want 2", heights, r)
	}
}

func TestBarChartSizesAndErrors(t *testing.T) {
	c := &BarChart{Groups: []Group{{Name: "checks/s", Values: []float64{12.5}}}, Width: 400, Height: 300}
	img := decode(t, func(b *bytes.Buffer) error { return c.WritePNG(b) })
	if img.Bounds().Dx() != 400 || img.Bounds().Dy() != 300 {
		t.Fatalf("bounds %v", img.Bounds())
	}
	if n, _ := census(img); n == 0 {
		t.Error("blank image")
	}
	// All values missing: still a chart (axes, labels), no error.
	c = &BarChart{Title: "nothing", Groups: []Group{{Name: "x", Values: []float64{-1}}}, MissingLabel: "failed"}
	if _, err := c.Draw(); err != nil {
		t.Errorf("all missing: %v", err)
	}
	for _, bad := range []*BarChart{{}, {Groups: []Group{{}}, Width: 10, Height: 10}} {
		if _, err := bad.Draw(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestPanels(t *testing.T) {
	a := &BarChart{Title: "a", Groups: []Group{{Name: "x", Values: []float64{1, 2}}}, Width: 300, Height: 200}
	b := &BarChart{Title: "b", Groups: []Group{{Name: "y", Values: []float64{3}}}, Width: 400, Height: 250}
	c := &BarChart{Title: "c", Groups: []Group{{Name: "z", Values: []float64{4}}}, Width: 300, Height: 200}
	img := decode(t, func(buf *bytes.Buffer) error { return WritePanels(buf, 2, a, b, c) })
	if img.Bounds().Dx() != 800 || img.Bounds().Dy() != 500 {
		t.Errorf("bounds %v, want 800x500", img.Bounds())
	}
	if err := WritePanels(&bytes.Buffer{}, 2); err == nil {
		t.Error("no panels: no error")
	}
}

func TestNiceStepCompactFont(t *testing.T) {
	for x, want := range map[float64]float64{0.7: 1, 1.2: 2, 3: 5, 7: 10, 130: 200, 0: 1, 0.02: 0.02, 0.3: 0.5} {
		if got := NiceStep(x); math.Abs(got-want) > 1e-12 {
			t.Errorf("NiceStep(%v) = %v, want %v", x, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 7: "7", 0.5: "0.5", 12.34: "12.3", 250000: "250K", 1234567: "1.23M",
		999.6: "1K", 99999: "100K", 4.5e9: "4.5G", -2000: "-2K"} {
		if got := Compact(v); got != want {
			t.Errorf("Compact(%v) = %q, want %q", v, got, want)
		}
	}
	if got := formatTick(0.6000000000000001, 0.2); got != "0.6" {
		t.Errorf("formatTick = %q", got)
	}
	for r, g := range font {
		for _, row := range g {
			if len(row) != 5 {
				t.Errorf("glyph %q has a row of %d pixels", r, len(row))
			}
		}
	}
	if glyph('q') != font['Q'] || glyph('~') != font['?'] || glyph('µ') != font['U'] {
		t.Error("glyph fallbacks")
	}
}
