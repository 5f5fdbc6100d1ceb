// Package chart draws clustered bar charts as PNG images with the standard
// library only (image, image/png and a built-in 5x7 pixel font), for
// machines without gnuplot.
//
// A BarChart has groups (clusters along the x axis, e.g. operations) of bars,
// one per series (e.g. systems, shown in the legend with a colour each). It
// draws a title, a y axis starting at zero with "nice" tick values and a
// grid, axis labels, the value above every bar, the group names below the
// axis and a legend on the right. Text is drawn in capitals.
//
//	c := &chart.BarChart{
//		Title:  "get/set throughput",
//		XLabel: "operation", YLabel: "thousand ops/s",
//		YScale: 1000,
//		Series: []string{"Pequod", "Redis"},
//		Groups: []chart.Group{{Name: "get", Values: []float64{250e3, 500e3}}},
//	}
//	err := c.WritePNG(w)
package chart

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
	"strings"
)

// Default image size in pixels.
const (
	DefaultWidth  = 1100
	DefaultHeight = 650
)

// Group is one cluster of bars. Values[i] is the bar of series i; a
// negative or NaN value (or a missing trailing value) is a missing bar.
type Group struct {
	Name   string
	Values []float64
}

// BarChart describes a clustered bar chart. The zero value of every
// optional field selects a sensible default.
type BarChart struct {
	Title  string
	XLabel string // below the group names; optional
	YLabel string // drawn vertically left of the axis; optional
	// Series names the bars of each group, in order; they form the legend
	// (no legend when empty or when there is a single unnamed series).
	Series []string
	Groups []Group
	// Width and Height of the image in pixels (DefaultWidth x
	// DefaultHeight when zero).
	Width, Height int
	// YScale divides the values for the tick labels of the y axis (e.g.
	// 1000 with a YLabel in thousands); 1 when zero. Scaled ticks from
	// 10000 up are written like Compact ("250K").
	YScale float64
	// ValueLabel formats the label above a bar from its unscaled value;
	// Compact when nil.
	ValueLabel func(v float64) string
	// MissingLabel, when not empty, is written just above the axis where a
	// bar is missing (e.g. "failed").
	MissingLabel string
}

// palette holds the bar colours (read-only); see SeriesColor.
var palette = [...]color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x99, 0x99, 0x99, 0xff}, // grey
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// SeriesColor is the colour of the bars of series i (the palette repeats
// after 8 series).
func SeriesColor(i int) color.RGBA { return palette[i%len(palette)] }

var (
	white = color.RGBA{0xff, 0xff, 0xff, 0xff}
	black = color.RGBA{0, 0, 0, 0xff}
	grey  = color.RGBA{0x66, 0x66, 0x66, 0xff}
	gridc = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
)

// WritePNG draws the chart and encodes it as PNG to w.
func (c *BarChart) WritePNG(w io.Writer) error {
	img, err := c.Draw()
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("chart: encoding PNG: %w", err)
	}
	return nil
}

// Draw renders the chart into a new image.
func (c *BarChart) Draw() (*image.RGBA, error) {
	W, H := c.Width, c.Height
	if W == 0 {
		W = DefaultWidth
	}
	if H == 0 {
		H = DefaultHeight
	}
	if W < 200 || H < 150 {
		return nil, fmt.Errorf("chart: image %dx%d is too small (at least 200x150)", W, H)
	}
	if len(c.Groups) == 0 {
		return nil, errors.New("chart: no groups to draw")
	}
	nbars := len(c.Series)
	for _, g := range c.Groups {
		nbars = max(nbars, len(g.Values))
	}
	if nbars == 0 {
		nbars = 1
	}
	yscale := c.YScale
	if yscale <= 0 {
		yscale = 1
	}
	valueLabel := c.ValueLabel
	if valueLabel == nil {
		valueLabel = Compact
	}

	// Y range in scaled units: 0 .. top, ticks every step.
	maxV := 0.0
	for _, g := range c.Groups {
		for _, v := range g.Values {
			if present(v) {
				maxV = math.Max(maxV, v/yscale)
			}
		}
	}
	step := NiceStep(maxV * 1.15 / 6)
	top := math.Ceil(maxV*1.15/step) * step
	if top <= 0 {
		top, step = 1, NiceStep(1.0/5)
	}
	ticks := int(math.Round(top / step))
	tickLabel := func(i int) string {
		if top >= 10000 {
			return Compact(float64(i) * step) // "250K" rather than "250000"
		}
		return formatTick(float64(i)*step, step)
	}

	// Layout: the left margin fits the tick labels and the y label, the
	// right margin the legend.
	left := 40
	for i := 0; i <= ticks; i++ {
		left = max(left, textWidth(tickLabel(i), 2)+20)
	}
	if c.YLabel != "" {
		left += 30
	}
	legend := len(c.Series) > 1 || (len(c.Series) == 1 && c.Series[0] != "")
	right := 30
	if legend {
		lw := 0
		for _, s := range c.Series {
			lw = max(lw, textWidth(s, 2))
		}
		right = min(max(lw+70, 120), W/2)
	}
	topM, bottom := 70, 50
	if c.Title == "" {
		topM = 40
	}
	if c.XLabel != "" {
		bottom += 30
	}
	x0, x1, y0, y1 := left, W-right, H-bottom, topM // plot area; y0 is the bottom
	if x1-x0 < 50 || y0-y1 < 50 {
		return nil, fmt.Errorf("chart: image %dx%d leaves no room for the plot", W, H)
	}
	yOf := func(v float64) int { return y0 - int(math.Round(v/yscale/top*float64(y0-y1))) }

	img := image.NewRGBA(image.Rect(0, 0, W, H))
	fill(img, img.Bounds(), white)
	if c.Title != "" {
		scale := fitScale(c.Title, W-20, 2)
		drawText(img, W/2-textWidth(c.Title, scale)/2, 20, c.Title, scale, black)
	}
	// Grid and y ticks.
	for i := 0; i <= ticks; i++ {
		y := yOf(float64(i) * step * yscale)
		hline(img, x0, x1, y, gridc)
		s := tickLabel(i)
		drawText(img, x0-10-textWidth(s, 2), y-7, s, 2, black)
	}
	// Axes and their labels.
	hline(img, x0, x1, y0, black)
	vline(img, x0, y1, y0, black)
	if c.XLabel != "" {
		scale := fitScale(c.XLabel, x1-x0, 2)
		drawText(img, (x0+x1)/2-textWidth(c.XLabel, scale)/2, H-32, c.XLabel, scale, black)
	}
	if c.YLabel != "" {
		scale := fitScale(c.YLabel, y0-y1, 2)
		drawTextVertical(img, 18, (y0+y1)/2+textWidth(c.YLabel, scale)/2, c.YLabel, scale, black)
	}

	// Bars.
	gw := float64(x1-x0) / float64(len(c.Groups))
	bw := gw * 0.8 / float64(nbars)
	for gi, g := range c.Groups {
		gx := float64(x0) + gw*float64(gi) + gw*0.1
		for bi := 0; bi < nbars; bi++ {
			bx0 := int(gx + bw*float64(bi) + 2)
			bx1 := max(int(gx+bw*float64(bi+1)-2), bx0+1)
			v := math.NaN()
			if bi < len(g.Values) {
				v = g.Values[bi]
			}
			if !present(v) {
				if c.MissingLabel != "" {
					scale := fitScale(c.MissingLabel, bx1-bx0+8, 2)
					drawText(img, (bx0+bx1)/2-textWidth(c.MissingLabel, scale)/2, y0-7*scale-4, c.MissingLabel, scale, grey)
				}
				continue
			}
			by := yOf(v)
			fill(img, image.Rect(bx0, by, bx1, y0), SeriesColor(bi))
			s := valueLabel(v)
			scale := fitScale(s, bx1-bx0+8, 2)
			drawText(img, (bx0+bx1)/2-textWidth(s, scale)/2, by-7*scale-6, s, scale, black)
		}
		if g.Name != "" {
			scale := fitScale(g.Name, int(gw*0.95), 3)
			drawText(img, int(gx+gw*0.4)-textWidth(g.Name, scale)/2, y0+12, g.Name, scale, black)
		}
	}
	// Legend.
	if legend {
		lx, ly := x1+20, y1+10
		for i, s := range c.Series {
			fill(img, image.Rect(lx, ly+i*30, lx+20, ly+i*30+20), SeriesColor(i))
			drawText(img, lx+28, ly+i*30+3, s, 2, black)
		}
	}
	return img, nil
}

// WritePanels draws charts side by side, cols per row (1 when cols < 1), on
// one white image and encodes it as PNG to w. Each cell is as large as the
// largest chart.
func WritePanels(w io.Writer, cols int, charts ...*BarChart) error {
	if len(charts) == 0 {
		return errors.New("chart: no panels to draw")
	}
	cols = max(1, min(cols, len(charts)))
	imgs := make([]*image.RGBA, len(charts))
	cw, ch := 0, 0
	for i, c := range charts {
		img, err := c.Draw()
		if err != nil {
			return fmt.Errorf("panel %d (%q): %w", i, c.Title, err)
		}
		imgs[i] = img
		cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
	}
	rows := (len(imgs) + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, cw*cols, ch*rows))
	fill(out, out.Bounds(), white)
	for i, img := range imgs {
		at := image.Pt(i%cols*cw, i/cols*ch)
		draw.Draw(out, img.Bounds().Add(at), img, image.Point{}, draw.Src)
	}
	if err := png.Encode(w, out); err != nil {
		return fmt.Errorf("chart: encoding PNG: %w", err)
	}
	return nil
}

func present(v float64) bool { return v >= 0 && !math.IsNaN(v) && !math.IsInf(v, 0) }

// NiceStep rounds x up to 1, 2 or 5 times a power of ten (1 when x <= 0):
// the tick spacing of the y axis.
func NiceStep(x float64) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}

// formatTick formats the tick value t with as many decimals as step needs.
func formatTick(t, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(t, 'f', dec, 64)
}

// Compact formats v with three significant digits and a K/M/G suffix
// (1234567 → "1.23M", 250000 → "250K", 12.34 → "12.3", 0.5 → "0.5").
func Compact(v float64) string {
	neg := ""
	if v < 0 {
		neg, v = "-", -v
	}
	suffix := ""
	for _, s := range []string{"K", "M", "G", "T"} {
		if v < 999.5 {
			break
		}
		v /= 1000
		suffix = s
	}
	var s string
	switch {
	case v >= 99.95 || (suffix == "" && v == math.Trunc(v)):
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return neg + s + suffix
}

// fitScale is the largest text scale up to maxScale (at least 1) at which
// s fits in width pixels.
func fitScale(s string, width, maxScale int) int {
	for scale := maxScale; scale > 1; scale-- {
		if textWidth(s, scale) <= width {
			return scale
		}
	}
	return 1
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func hline(img *image.RGBA, xa, xb, y int, c color.RGBA) {
	fill(img, image.Rect(xa, y, xb+1, y+1), c)
}

func vline(img *image.RGBA, x, ya, yb int, c color.RGBA) {
	fill(img, image.Rect(x, ya, x+1, yb+1), c)
}

// textWidth is the width in pixels of s drawn at scale.
func textWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return (n*6 - 1) * scale
}

// drawText draws s with its top-left corner at (x, y); letters are drawn as
// capitals.
func drawText(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	for i, r := range []rune(s) {
		g := glyph(r)
		for gy, rowBits := range g {
			for gx := 0; gx < 5; gx++ {
				if rowBits[gx] == '#' {
					fill(img, image.Rect(x+(i*6+gx)*scale, y+gy*scale, x+(i*6+gx+1)*scale, y+(gy+1)*scale), c)
				}
			}
		}
	}
}

// drawTextVertical draws s rotated a quarter turn counter-clockwise,
// starting at (x, y) (the bottom end of the text) and going up.
func drawTextVertical(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	for i, r := range []rune(s) {
		g := glyph(r)
		for gy, rowBits := range g {
			for gx := 0; gx < 5; gx++ {
				if rowBits[gx] == '#' {
					px := x + gy*scale
					py := y - (i*6+gx+1)*scale
					fill(img, image.Rect(px, py, px+scale, py+scale), c)
				}
			}
		}
	}
}
