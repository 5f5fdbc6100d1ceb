package main

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strconv"
	"strings"
)

// barGroup is one cluster of bars (an operation); values[i] belongs to
// column i, negative = missing.
type barGroup struct {
	name   string
	values []float64
}

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x99, 0x99, 0x99, 0xff}, // grey
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x94, 0x67, 0xbd, 0xff}, // purple
}

// drawChart draws a clustered bar chart (ops/s per operation and
// configuration) as PNG, with a built-in 5x7 pixel font: title, labelled
// axes with tick values, the value above every bar, and a legend.
func drawChart(w io.Writer, title string, columns []string, groups []barGroup) error {
	const (
		W, H                     = 1100, 650
		left, right, top, bottom = 100, 290, 70, 80
	)
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	fill(img, img.Bounds(), color.RGBA{0xff, 0xff, 0xff, 0xff})
	black := color.RGBA{0, 0, 0, 0xff}
	gridc := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}

	maxV := 0.0
	for _, g := range groups {
		for _, v := range g.values {
			maxV = math.Max(maxV, v)
		}
	}
	step := niceStep(maxV / 1000 * 1.15 / 6) // in thousands
	top1000 := math.Ceil(maxV/1000*1.15/step) * step
	if top1000 <= 0 {
		top1000, step = 1, 1
	}
	x0, x1, y0, y1 := left, W-right, H-bottom, top // plot area; y0 is the bottom
	yOf := func(v float64) int { return y0 - int(math.Round(v/1000/top1000*float64(y0-y1))) }

	drawText(img, W/2-textWidth(title, 2)/2, 20, title, 2, black)
	// Grid and y ticks.
	for t := 0.0; t <= top1000+step/2; t += step {
		y := yOf(t * 1000)
		hline(img, x0, x1, y, gridc)
		s := strconv.FormatFloat(t, 'f', -1, 64)
		drawText(img, x0-10-textWidth(s, 2), y-7, s, 2, black)
	}
	// Axes.
	hline(img, x0, x1, y0, black)
	vline(img, x0, y1, y0, black)
	drawText(img, (x0+x1)/2-textWidth("OPERATION", 2)/2, H-32, "OPERATION", 2, black)
	ylab := "THROUGHPUT (THOUSAND OPS/S)"
	drawTextVertical(img, 18, (y0+y1)/2+textWidth(ylab, 2)/2, ylab, 2, black)

	// Bars.
	gw := float64(x1-x0) / float64(len(groups))
	bw := gw * 0.8 / float64(len(columns))
	for gi, g := range groups {
		gx := float64(x0) + gw*float64(gi) + gw*0.1
		for ci, v := range g.values {
			if v < 0 {
				continue
			}
			bx0 := int(gx + bw*float64(ci) + 2)
			bx1 := int(gx + bw*float64(ci+1) - 2)
			by := yOf(v)
			fill(img, image.Rect(bx0, by, bx1, y0), palette[ci%len(palette)])
			s := strconv.FormatFloat(math.Round(v/1000), 'f', 0, 64) + "K"
			drawText(img, (bx0+bx1)/2-textWidth(s, 2)/2, by-20, s, 2, black)
		}
		name := strings.ToUpper(g.name)
		drawText(img, int(gx+gw*0.4)-textWidth(name, 3)/2, y0+12, name, 3, black)
	}
	// Legend.
	lx, ly := x1+20, y1+10
	for ci, c := range columns {
		fill(img, image.Rect(lx, ly+ci*30, lx+20, ly+ci*30+20), palette[ci%len(palette)])
		drawText(img, lx+28, ly+ci*30+3, c, 2, black)
	}
	return png.Encode(w, img)
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
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

func glyph(r rune) [7]string {
	if r >= 'a' && r <= 'z' {
		r -= 'a' - 'A'
	}
	if r == '×' {
		r = 'X'
	}
	if g, ok := font[r]; ok {
		return g
	}
	return font['?']
}

// font is a classic 5x7 pixel font: capitals, digits and some punctuation.
var font = map[rune][7]string{
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", "#...#", ".#.#.", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'|': {"..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'?': {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
}
