// A guest for VMware's absolute pointer behind the backdoor port 0x5658, entered at the Linux
// 64-bit boot entry. It sets a 1024x768x32 Bochs VBE mode (so the host knows the screen's size),
// checks the backdoor (the magic comes back from get version; a call without it fails), enables
// the pointer, checks its version ID, asks for absolute packets and prints "vmmouse: ready".
// Then it polls the pointer's status and prints each packet on COM1 as
//   vmmouse: buttons=XXXXXXXX x=XXXX y=XXXX wheel=XXXXXXXX
// and powers off (ACPI S5) after the first packet with the middle button held. A check that
// fails prints "vmmouse-FAIL <what> got XXXXXXXX" and powers off.
        .set    MAGIC, 0x564D5868
        .set    BACKDOOR_PORT, 0x5658
        .set    GET_VERSION, 10
        .set    POINTER_DATA, 39
        .set    POINTER_STATUS, 40
        .set    POINTER_COMMAND, 41
        .set    ENABLE, 0x45414552
        .set    REQUEST_ABSOLUTE, 0x53424152
        .set    VERSION_ID, 0x3442554A
        .set    MIDDLE_BUTTON, 0x08
        .set    COM1, 0x3F8

        .macro  BACKDOOR command, parameter
        mov     $MAGIC, %eax
        mov     $\parameter, %ebx
        mov     $\command, %ecx
        mov     $BACKDOOR_PORT, %edx
        in      %dx, %eax
        .endm

        .macro  VBE index, value
        mov     $0x1CE, %edx
        mov     $\index, %ax
        out     %ax, %dx
        mov     $0x1CF, %edx
        mov     $\value, %ax
        out     %ax, %dx
        .endm

        // The label's text, then the low DIGITS hex digits of REGISTER, on COM1.
        .macro  FIELD label, register, digits
        lea     \label(%rip), %rsi
        call    puts
        mov     \register, %eax
        mov     $\digits, %ecx
        call    put_hex
        .endm

        .code64
        .text
        .globl  _start
_start:
        lea     stack_top(%rip), %rsp
        VBE     4, 0                      // disable, then 1024x768x32 with the linear framebuffer
        VBE     1, 1024
        VBE     2, 768
        VBE     3, 32
        VBE     4, 0x41

        BACKDOOR GET_VERSION, 0
        lea     what_magic(%rip), %rsi
        cmp     $MAGIC, %ebx
        mov     %ebx, %eax
        jne     fail
        xor     %eax, %eax                // no magic: the call fails and says so in EAX
        mov     $GET_VERSION, %ecx
        mov     $BACKDOOR_PORT, %edx
        in      %dx, %eax
        lea     what_no_magic(%rip), %rsi
        cmp     $0xFFFFFFFF, %eax
        jne     fail

        BACKDOOR POINTER_COMMAND, ENABLE
        BACKDOOR POINTER_STATUS, 0
        lea     what_status(%rip), %rsi
        cmp     $1, %eax
        jne     fail
        BACKDOOR POINTER_DATA, 1
        lea     what_id(%rip), %rsi
        cmp     $VERSION_ID, %eax
        jne     fail
        BACKDOOR POINTER_COMMAND, REQUEST_ABSOLUTE
        lea     msg_ready(%rip), %rsi
        call    puts

poll:
        BACKDOOR POINTER_STATUS, 0
        lea     what_enabled(%rip), %rsi
        cmp     $0xFFFF0000, %eax
        je      fail
        cmp     $4, %ax
        jae     packet
        mov     $20000, %ecx              // a moment between polls: each is a VM exit
1:      pause
        loop    1b
        jmp     poll
packet:
        BACKDOOR POINTER_DATA, 4
        mov     %eax, %r12d
        mov     %ebx, %r13d
        mov     %ecx, %r14d
        mov     %edx, %r15d
        FIELD   msg_buttons, %r12d, 8
        FIELD   msg_x, %r13d, 4
        FIELD   msg_y, %r14d, 4
        FIELD   msg_wheel, %r15d, 8
        lea     msg_newline(%rip), %rsi
        call    puts
        test    $MIDDLE_BUTTON, %r12d
        jz      poll
        jmp     power_off

// "vmmouse-FAIL <what at %rsi> got <%eax>", then power off.
fail:
        mov     %eax, %r12d
        push    %rsi
        lea     msg_fail(%rip), %rsi
        call    puts
        pop     %rsi
        call    puts
        lea     msg_got(%rip), %rsi
        call    puts
        mov     %r12d, %eax
        mov     $8, %ecx
        call    put_hex
        lea     msg_newline(%rip), %rsi
        call    puts
power_off:
        mov     $0x604, %edx
        mov     $0x3400, %ax              // SLP_EN | SLP_TYP 5 (S5)
        out     %ax, %dx
1:      cli
        hlt
        jmp     1b

// The NUL-terminated string at %rsi, on COM1.
puts:
        mov     $COM1, %edx
1:      movzbl  (%rsi), %eax
        test    %al, %al
        jz      2f
        out     %al, %dx
        inc     %rsi
        jmp     1b
2:      ret

// The low %ecx hex digits of %eax (upper case), on COM1.
put_hex:
        mov     %eax, %edi
        mov     $COM1, %edx
1:      dec     %ecx
        mov     %ecx, %r8d
        shl     $2, %ecx
        mov     %edi, %eax
        shr     %cl, %eax
        mov     %r8d, %ecx
        and     $0xF, %eax
        add     $'0', %al
        cmp     $'9', %al
        jbe     2f
        add     $('A' - '9' - 1), %al
2:      out     %al, %dx
        test    %ecx, %ecx
        jnz     1b
        ret

msg_ready:      .asciz  "vmmouse: ready\n"
msg_buttons:    .asciz  "vmmouse: buttons="
msg_x:          .asciz  " x="
msg_y:          .asciz  " y="
msg_wheel:      .asciz  " wheel="
msg_newline:    .asciz  "\n"
msg_fail:       .asciz  "vmmouse-FAIL "
msg_got:        .asciz  " got "
what_magic:     .asciz  "get version's EBX is not the magic"
what_no_magic:  .asciz  "a call without the magic did not fail"
what_status:    .asciz  "status after enable is not one dword"
what_id:        .asciz  "the pointer's version ID"
what_enabled:   .asciz  "the pointer turned itself off"

        .balign 16
        .skip   4096
stack_top:
