/*
 * fbmark: the display test guest's marker program (static, run by the display initramfs's /init).
 *
 * Opens /dev/fb0, reads its variable and fixed screen information and prints one line on stdout:
 *
 *   FB <xres>x<yres> bpp=<bits_per_pixel> stride=<line_length> driver=<fix.id>
 *
 * then fills one SIZE x SIZE square per argument `X,Y,RRGGBB` (visible-screen coordinates, a
 * colour as six hex digits) through an mmap of the framebuffer, packing the colour with the
 * red/green/blue bit fields the driver reports, and prints `FB drawn <n> squares`. Squares that
 * do not fit on the screen, a pseudo-colour visual or a bad argument are errors: a line starting
 * `FB error:` and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum { SIZE = 32, MAX_SQUARES = 64 };

struct square {
	uint32_t x;
	uint32_t y;
	uint32_t rgb;
};

static int fail(const char *what)
{
	printf("FB error: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Parses `X,Y,RRGGBB`; 0 on success. */
static int parse_square(const char *text, struct square *out)
{
	char *end;
	unsigned long x = strtoul(text, &end, 10);
	if (*end != ',' || x > 65535)
		return -1;
	unsigned long y = strtoul(end + 1, &end, 10);
	if (*end != ',' || y > 65535)
		return -1;
	const char *hex = end + 1;
	unsigned long rgb = strtoul(hex, &end, 16);
	if (*end != '\0' || end - hex != 6)
		return -1;
	out->x = (uint32_t)x;
	out->y = (uint32_t)y;
	out->rgb = (uint32_t)rgb;
	return 0;
}

/* An 8-bit channel scaled into a bit field of the pixel. */
static uint32_t channel(uint32_t value8, const struct fb_bitfield *field)
{
	if (field->length == 0 || field->length > 8 || field->offset + field->length > 32)
		return 0;
	return (value8 >> (8 - field->length)) << field->offset;
}

int main(int argc, char **argv)
{
	struct square squares[MAX_SQUARES];
	int count = argc - 1;
	if (count > MAX_SQUARES) {
		printf("FB error: at most %d squares\n", MAX_SQUARES);
		return 1;
	}
	for (int i = 0; i < count; i++) {
		if (parse_square(argv[i + 1], &squares[i]) != 0) {
			printf("FB error: bad square '%s' (want X,Y,RRGGBB)\n", argv[i + 1]);
			return 1;
		}
	}

	int fd = open("/dev/fb0", O_RDWR);
	if (fd < 0)
		return fail("open /dev/fb0");
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	if (ioctl(fd, FBIOGET_VSCREENINFO, &var) != 0)
		return fail("FBIOGET_VSCREENINFO");
	if (ioctl(fd, FBIOGET_FSCREENINFO, &fix) != 0)
		return fail("FBIOGET_FSCREENINFO");
	char id[sizeof fix.id + 1];
	memcpy(id, fix.id, sizeof fix.id);
	id[sizeof fix.id] = '\0';
	printf("FB %ux%u bpp=%u stride=%u driver=%s\n", var.xres, var.yres, var.bits_per_pixel,
	       fix.line_length, id);
	fflush(stdout);

	if (fix.visual != FB_VISUAL_TRUECOLOR && fix.visual != FB_VISUAL_DIRECTCOLOR) {
		printf("FB error: visual %u is not true colour\n", fix.visual);
		return 1;
	}
	uint32_t bytes_per_pixel = (var.bits_per_pixel + 7) / 8;
	if (bytes_per_pixel < 2 || bytes_per_pixel > 4) {
		printf("FB error: %u bits a pixel is not drawn\n", var.bits_per_pixel);
		return 1;
	}
	uint64_t map_bytes = fix.smem_len;
	uint64_t first = (uint64_t)var.yoffset * fix.line_length +
			 (uint64_t)var.xoffset * bytes_per_pixel;
	for (int i = 0; i < count; i++) {
		const struct square *s = &squares[i];
		uint64_t last_row = first + (uint64_t)(s->y + SIZE - 1) * fix.line_length;
		uint64_t row_end = last_row + (uint64_t)(s->x + SIZE) * bytes_per_pixel;
		if (s->x + SIZE > var.xres || s->y + SIZE > var.yres || row_end > map_bytes) {
			printf("FB error: square %u,%u does not fit the screen\n", s->x, s->y);
			return 1;
		}
	}
	uint8_t *fb = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fb == MAP_FAILED)
		return fail("mmap /dev/fb0");

	for (int i = 0; i < count; i++) {
		const struct square *s = &squares[i];
		uint32_t pixel = channel((s->rgb >> 16) & 0xff, &var.red) |
				 channel((s->rgb >> 8) & 0xff, &var.green) |
				 channel(s->rgb & 0xff, &var.blue);
		for (uint32_t row = 0; row < SIZE; row++) {
			uint8_t *p = fb + first + (uint64_t)(s->y + row) * fix.line_length +
				     (uint64_t)s->x * bytes_per_pixel;
			for (uint32_t col = 0; col < SIZE; col++) {
				for (uint32_t b = 0; b < bytes_per_pixel; b++)
					p[b] = (uint8_t)(pixel >> (8 * b));
				p += bytes_per_pixel;
			}
		}
	}
	if (msync(fb, map_bytes, MS_SYNC) != 0)
		return fail("msync");
	printf("FB drawn %d squares\n", count);
	return 0;
}
