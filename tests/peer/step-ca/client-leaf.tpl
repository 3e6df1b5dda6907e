{{- /*
  step-ca X.509 template for kafka-mtls client certificates (JWK provisioner).
  Everything in the certificate comes from the validated token or from the
  provisioner's templateData, never from the CSR (the CSR only supplies the
  public key and must name the token's subject as its CN):
    subject  CN = token "sub", then O and C from templateData, in that DER
             order (CN first), so RFC 2253 reads "C=..,O=..,CN=.." exactly
             as keytool -dname "C=.., O=.., CN=.." makes it.  extraNames are
             emitted in the given order (Go's own pkix.Name order is C, O, CN).
    SANs     the token's "sans" claim minus the subject itself (the step CLI
             puts the subject there when no --san is given; a Kafka client
             CN such as "Callisto kafka-producer" is no host name).  step-ca
             has already refused a CSR whose SANs differ from the token's.
    usage    digitalSignature (+ keyEncipherment for RSA keys), EKU clientAuth.
*/ -}}
{{- if ne .Insecure.CR.Subject.CommonName .Subject.CommonName }}
  {{- fail (printf "the CSR's common name %q is not the token's subject %q" .Insecure.CR.Subject.CommonName .Subject.CommonName) }}
{{- end }}
{{- $sans := list }}
{{- range .SANs }}{{ if ne .Value $.Subject.CommonName }}{{ $sans = append $sans . }}{{ end }}{{ end }}
{
  "subject": {
    "extraNames": [
      {"type": "2.5.4.3", "value": {{ toJson .Subject.CommonName }}}
{{- with .organization }},
      {"type": "2.5.4.10", "value": {{ toJson . }}}
{{- end }}
{{- with .country }},
      {"type": "2.5.4.6", "value": {{ toJson . }}}
{{- end }}
    ]
  },
{{- if $sans }}
  "sans": {{ toJson $sans }},
{{- end }}
{{- if typeIs "*rsa.PublicKey" .Insecure.CR.PublicKey }}
  "keyUsage": ["digitalSignature", "keyEncipherment"],
{{- else }}
  "keyUsage": ["digitalSignature"],
{{- end }}
  "extKeyUsage": ["clientAuth"]
}
